"""The one place that defines unit constants. Names carry units.

GB means 10**9 bytes (vendor datasheets); GiB means 2**30 bytes and is only
used when converting a device-reported MiB figure.
"""

BYTES_PER_GB = 1e9
BYTES_PER_GIB = 2.0**30
BYTES_PER_MIB = 2.0**20
BITS_PER_BYTE = 8.0
PARAMS_PER_BILLION = 1e9
TOKENS_PER_MTOK = 1e6
FLOPS_PER_TFLOP = 1e12
SECONDS_PER_HOUR = 3600.0
HOURS_PER_MONTH_DEFAULT = 730.0  # 8760 h / 12 months
WATTS_PER_KW = 1000.0
