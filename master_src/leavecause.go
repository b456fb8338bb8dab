package master

import (
	"errors"
	"net"
)

// lossCause says why a slave left the pool, for its log line and its
// lost_cause: "drained" when it announced its departure (Leaving) and
// closed its links after, a clean stop logged at info; "unresponsive: ..."
// when a load poll went unanswered (a hung process, a host or network
// down); "killed: ..." when its links closed or failed without notice (the
// process killed, the host rebooted). clean says whether to log it at info
// rather than warning.
func lossCause(err error, leaving bool) (cause string, clean bool) {
	var ne net.Error
	switch {
	case err == nil:
		return "", false
	case errors.Is(err, errShuttingDown):
		return err.Error(), true
	case errors.As(err, &ne) && ne.Timeout():
		return "unresponsive: " + err.Error(), false
	case leaving:
		return "drained", true
	}
	return "killed: " + err.Error(), false
}
