"""English dates in one format, the ISO-like one the pages already write (``2026-12-05 07:22``):
Django's English defaults ("Dec. 5, 2026, 7:21 a.m.", "12/05/2026") would mix two styles on one
page. Swedish formats are ISO-like already."""

DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i"
DATE_INPUT_FORMATS = ["%Y-%m-%d"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"]
