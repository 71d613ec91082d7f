"""Read the result files of benchmark tools (vLLM bench, GuideLLM, AIPerf / genai-perf) as runs,
and turn runs into measurement entries. See docs/importers.md."""

from selfhost.importers.common import BenchRun, LatencyStat
from selfhost.importers.detect import FORMATS, ImportedFile, read_results
from selfhost.importers.measurements import Deployment, measurement_records
from selfhost.importers.measurements_file import append_measurements, measurements_yaml

__all__ = [
    "FORMATS",
    "BenchRun",
    "Deployment",
    "ImportedFile",
    "LatencyStat",
    "append_measurements",
    "measurement_records",
    "measurements_yaml",
    "read_results",
]
