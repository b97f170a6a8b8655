"""Pure geospatial computation: no files, no network, no global settings."""
