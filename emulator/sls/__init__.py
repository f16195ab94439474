"""SLS (Log Service): logstore queries (GetLogs, GetHistograms) and logstore listing."""
