"""Calibration: measurement files, predictions of measured figures, and the error report."""
