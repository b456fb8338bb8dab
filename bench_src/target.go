package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// CheckTarget validates a -target URL and returns it without a trailing
// slash. Unless allowRemote, its host must be loopback (localhost, 127/8,
// ::1): the lab sends load, and load sent to someone else's machine is an
// attack.
func CheckTarget(raw string, allowRemote bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("-target %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("-target %q: want http://HOST:PORT", raw)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("-target %q: want the master's base URL, http://HOST:PORT", raw)
	}
	if !allowRemote && !isLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("-target %q is not on loopback: the lab only loads this machine unless -allow-remote is given (for a LAN you run)", raw)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// NewClient returns the load generator's HTTP client: keep-alive, up to
// conns idle connections to the master, no proxy, no redirects, and unless
// allowRemote a dialer that refuses any address that is not loopback (so a
// name that resolves elsewhere cannot take the load off the machine).
func NewClient(conns int, allowRemote bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowRemote {
		d.Control = loopbackOnly
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: 0, // the per-request timeout bounds it
		ForceAttemptHTTP2:     false,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// loopbackOnly is a dialer Control function that refuses non-loopback
// addresses.
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("refusing to connect to %s: not loopback (use -allow-remote for a LAN you run)", address)
	}
	return nil
}

// targetInfo is what the lab learns about a running master before loading
// it: its algorithm (from /api/status, when the master serves it) and the
// slaves in its pool (from /sd/targets), so slaves that get no task still
// show in the shares.
func targetInfo(ctx context.Context, c *http.Client, base string) (algorithm string, slaves []string) {
	var st struct {
		Algorithm string `json:"algorithm"`
	}
	if getJSON(ctx, c, base+"/api/status", &st) == nil && st.Algorithm != "" {
		algorithm = st.Algorithm
	}
	groups, err := sdTargets(ctx, c, base)
	if err == nil {
		for _, g := range groups {
			if key := g.slaveKey(); key != "" {
				slaves = append(slaves, key)
			}
		}
	}
	return algorithm, slaves
}

// sdGroup is one group of the master's /sd/targets.
type sdGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// slaveKey is the slave's name in task answers: host:slave_id.
func (g sdGroup) slaveKey() string {
	if g.Labels["host"] == "" || g.Labels["slave_id"] == "" {
		return ""
	}
	return net.JoinHostPort(g.Labels["host"], g.Labels["slave_id"])
}

func sdTargets(ctx context.Context, c *http.Client, base string) ([]sdGroup, error) {
	var groups []sdGroup
	err := getJSON(ctx, c, base+"/sd/targets", &groups)
	return groups, err
}

func getJSON(ctx context.Context, c *http.Client, u string, v any) error {
	body, err := get(ctx, c, u)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}

func get(ctx context.Context, c *http.Client, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return body, nil
}
