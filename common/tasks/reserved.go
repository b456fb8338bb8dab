package tasks

import "slices"

// ReservedNames are the first segments of the master's own paths (/ok,
// /metrics, /api/..., /static/..., /sd/..., /favicon.ico). The master routes
// GET /NAME to the task NAME, so no task may take one of them: the slave
// refuses such a -task and the master refuses such an offer. The built-in
// tasks' names are taken too, by ByName.
var ReservedNames = []string{"api", "favicon.ico", "metrics", "ok", "sd", "static"}

// Reserved reports whether name is one of the master's own paths.
func Reserved(name string) bool { return slices.Contains(ReservedNames, name) }
