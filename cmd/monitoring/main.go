// Command monitoring will keep Grafana in step with the slave pool; it is
// not implemented yet.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "monitoring: not yet implemented")
	os.Exit(1)
}
