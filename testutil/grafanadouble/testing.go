package grafanadouble

import "testing"

// StartTest starts a double accepting key on 127.0.0.1:0 and closes it when
// the test ends. Its health checks reach loopback Prometheus only: any other
// datasource host is refused, as an unreachable one would be by Grafana.
func StartTest(t testing.TB, key string) *Server {
	t.Helper()
	s := New(key)
	s.loopbackOnly = true
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("grafanadouble: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
