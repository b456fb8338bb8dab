package packets

// STUB until the lead lands "packets: cancel, workers, offers" on main: the
// subset of that API slave_src/usertask needs, exactly as in the wire brief.
// Drop this file when merging main.

// OfferedTask is one task a slave offers (TaskOffer).
type OfferedTask struct {
	Name          string
	Builtin       bool
	PerByte       bool
	Load          uint64
	MaxInput      uint32
	MaxOutput     uint32
	TimeoutMillis uint32
	Workers       uint16
}

const (
	MaxOfferedTasks = 64
	MaxTaskName     = 64
	MaxTaskData     = MaxPayload - 4096
)

// ValidTaskName reports whether s is [a-z][a-z0-9_-]*, 1..MaxTaskName bytes.
func ValidTaskName(s string) bool {
	if len(s) == 0 || len(s) > MaxTaskName || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
