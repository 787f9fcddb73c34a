"""Files in and out: the native project format, DBP15K and table importers, value parsing, exports, and the errors that name file, line and problem. May import core.data."""
