package usertask

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/tasks"
)

// Spec is one operator-defined task, as written in -task or -tasks FILE.
type Spec struct {
	Name string
	// Exec is the program and its arguments (exec=, split on spaces); HTTP
	// the service's URL (http=). Exactly one is set.
	Exec []string
	HTTP string
	// Load is what one task costs against the slave's max load; with
	// PerByte, what one byte of input costs.
	Load    uint64
	PerByte bool
	// MaxInput and MaxOutput cap the input and the result, in bytes.
	MaxInput, MaxOutput uint32
	Timeout             time.Duration
	// Workers, when positive, gives the task its own lane of that many
	// workers; 0 shares the slave's.
	Workers uint16
}

// Defaults of the optional keys.
const (
	// DefaultLoad lets a hundred tasks run at once under the slave's
	// default max load.
	DefaultLoad    = 1_000_000_000
	DefaultTimeout = 30 * time.Second
	// MaxTimeout keeps the timeout within the wire's milliseconds (u32).
	MaxTimeout = 24 * time.Hour
)

// DefaultMaxData is the default max-input and max-output: the most a frame
// carries.
const DefaultMaxData = packets.MaxTaskData

// Keys lists the keys a spec may have.
var Keys = []string{"name", "exec", "http", "load", "max-input", "max-output", "timeout", "workers"}

// ParseSpec reads one -task value: comma-separated key=value pairs, a value
// holding a comma or a quote CSV-quoted ("exec=tr a-z A-Z" needs none;
// "exec=cut -d, -f1" is written '"exec=cut -d, -f1"').
func ParseSpec(s string) (Spec, error) {
	if strings.ContainsAny(s, "\r\n") {
		return Spec{}, fmt.Errorf("task %q: a spec is one line", s)
	}
	r := csv.NewReader(strings.NewReader(s))
	r.TrimLeadingSpace = true
	fields, err := r.Read()
	if err != nil && err != io.EOF { // EOF: empty, and build says what is missing
		return Spec{}, fmt.Errorf("task %q: %w", s, err)
	}
	var pairs [][2]string
	for _, f := range fields {
		key, value, ok := strings.Cut(f, "=")
		if !ok {
			return Spec{}, fmt.Errorf("task %q: %q is not key=value", s, f)
		}
		pairs = append(pairs, [2]string{strings.TrimSpace(key), value})
	}
	return build(pairs)
}

// build makes a Spec from key=value pairs in their written order, checking
// every value; its errors name the task and the key.
func build(pairs [][2]string) (Spec, error) {
	sp := Spec{Load: DefaultLoad, MaxInput: DefaultMaxData, MaxOutput: DefaultMaxData, Timeout: DefaultTimeout}
	seen := map[string]bool{}
	for _, p := range pairs {
		if seen[p[0]] {
			return Spec{}, sp.errorf("key %s given twice", p[0])
		}
		seen[p[0]] = true
		if err := sp.set(p[0], p[1]); err != nil {
			return Spec{}, sp.errorf("%s: %w", p[0], err)
		}
	}
	switch {
	case !seen["name"]:
		return Spec{}, sp.errorf("name= is required")
	case seen["exec"] == seen["http"]:
		return Spec{}, sp.errorf("give exactly one of exec= and http=")
	}
	if sp.PerByte && uint64(sp.MaxInput) > math.MaxUint64/sp.Load {
		return Spec{}, sp.errorf("load: %d per byte of a %d-byte input overflows", sp.Load, sp.MaxInput)
	}
	return sp, nil
}

func (sp Spec) errorf(format string, args ...any) error {
	what := "task"
	if sp.Name != "" {
		what = "task " + sp.Name
	}
	return fmt.Errorf(what+": "+format, args...)
}

// set checks and stores one key's value.
func (sp *Spec) set(key, value string) error {
	var err error
	switch key {
	case "name":
		if err = checkName(value); err == nil {
			sp.Name = value
		}
	case "exec":
		sp.Exec = strings.Fields(value)
		if len(sp.Exec) == 0 {
			err = errors.New("names no program")
		}
	case "http":
		err = checkURL(value)
		sp.HTTP = value
	case "load":
		sp.Load, sp.PerByte, err = parseLoad(value)
	case "max-input":
		sp.MaxInput, err = parseDataSize(value)
	case "max-output":
		sp.MaxOutput, err = parseDataSize(value)
	case "timeout":
		sp.Timeout, err = time.ParseDuration(value)
		if err == nil && (sp.Timeout < time.Millisecond || sp.Timeout > MaxTimeout) {
			err = fmt.Errorf("%s is not between 1ms and %s", value, MaxTimeout)
		}
	case "workers":
		var n uint64
		n, err = strconv.ParseUint(value, 10, 16)
		if err != nil {
			err = fmt.Errorf("%q is not a number of workers (0-%d)", value, math.MaxUint16)
		}
		sp.Workers = uint16(n)
	default:
		err = fmt.Errorf("unknown key: valid ones are %s", strings.Join(Keys, ", "))
	}
	return err
}

func checkName(name string) error {
	switch {
	case !packets.ValidTaskName(name):
		return fmt.Errorf("%q is not a task name: a lower-case letter, then lower-case letters, digits, _ or -, at most %d in all", name, packets.MaxTaskName)
	case tasks.Reserved(name):
		return fmt.Errorf("%q is one of the master's own paths (%s)", name, strings.Join(tasks.ReservedNames, ", "))
	}
	if _, builtin := tasks.ByName(name); builtin {
		return fmt.Errorf("%q is a built-in task", name)
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q is not an http:// or https:// URL", s)
	case u.Host == "":
		return fmt.Errorf("%q names no host", s)
	case u.User != nil:
		return fmt.Errorf("%q carries credentials: they would show in the logs", s)
	}
	return nil
}

// parseLoad reads a constant load, per-byte (1 per input byte) or N/byte.
func parseLoad(s string) (uint64, bool, error) {
	digits, perByte := s, false
	switch {
	case s == "per-byte":
		return 1, true, nil
	case strings.HasSuffix(s, "/byte"):
		digits, perByte = strings.TrimSuffix(s, "/byte"), true
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n == 0 {
		return 0, false, fmt.Errorf("%q is not a load: a positive number, per-byte or N/byte", s)
	}
	return n, perByte, nil
}

func parseDataSize(s string) (uint32, error) {
	n, err := parseSize(s, packets.MaxTaskData)
	return uint32(n), err
}

// Offer is how the slave advertises the task to the master.
func (sp Spec) Offer() packets.OfferedTask {
	return packets.OfferedTask{
		Name:          sp.Name,
		PerByte:       sp.PerByte,
		Load:          sp.Load,
		MaxInput:      sp.MaxInput,
		MaxOutput:     sp.MaxOutput,
		TimeoutMillis: uint32(sp.Timeout.Milliseconds()),
		Workers:       sp.Workers,
	}
}

// LoadOf is what running the task on input costs against the max load.
func (sp Spec) LoadOf(input []byte) uint64 {
	if sp.PerByte {
		return sp.Load * uint64(len(input)) // no overflow: build checked Load × MaxInput
	}
	return sp.Load
}

// worstLoad is what the task's largest input costs.
func (sp Spec) worstLoad() uint64 {
	if sp.PerByte {
		return sp.Load * uint64(sp.MaxInput)
	}
	return sp.Load
}
