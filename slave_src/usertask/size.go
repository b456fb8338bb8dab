package usertask

import (
	"fmt"
	"strconv"
	"strings"
)

// sizeUnits are the suffixes a size may carry, longest first so that "KiB"
// is not read as "B".
var sizeUnits = []struct {
	suffix string
	bytes  uint64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"B", 1},
}

// parseSize reads a byte count such as 4096, 64KiB or 1MB; values beyond
// limit are refused, so the result always fits.
func parseSize(s string, limit uint64) (uint64, error) {
	digits, unit := s, uint64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			digits, unit = strings.TrimSuffix(s, u.suffix), u.bytes
			break
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (e.g. 4096, 64KiB, 1MB)", s)
	}
	if n > limit/unit {
		return 0, fmt.Errorf("%s exceeds the limit of %d bytes", s, limit)
	}
	return n * unit, nil
}
