package promsd

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestSlaveGroup(t *testing.T) {
	t.Parallel()
	got := SlaveGroup(40711, netip.MustParseAddrPort("10.0.0.2:39001"))
	want := TargetGroup{Targets: []string{"10.0.0.2:39001"}, Labels: map[string]string{"slave_id": "40711", "host": "10.0.0.2"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SlaveGroup = %+v, want %+v", got, want)
	}
}
