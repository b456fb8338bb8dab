// Package cli holds what the daemons' entry points share: parsing flags
// mixed with positional arguments, and running until a signal.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/lbproject/loadbalancer/common/buildinfo"
	"github.com/lbproject/loadbalancer/common/config"
	"github.com/lbproject/loadbalancer/common/runtimetune"
)

// Usagef is a command-line mistake found after parsing (an extra argument,
// a value out of range): Run prints it on one line and exits 2.
func Usagef(format string, args ...any) error {
	return config.Invalid(fmt.Errorf(format, args...))
}

// Parse parses fs over args, letting flags come before or after positional
// arguments (`./master -iface lo least_load` and `./master least_load -iface
// lo` both work), and returns the positional ones. It adds -version to fs:
// with it, Parse prints the build's version to stdout and returns
// ErrVersion, on which Run exits 0. A mistake is returned for Run to print on
// one line, not followed by the whole usage text; -h prints the usage.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	version := fs.Bool("version", false, "print the version and VCS revision this binary was built from, and exit")
	out := fs.Output()
	fs.SetOutput(io.Discard)
	defer fs.SetOutput(out)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				fs.Usage()
			}
			return nil, errUsage{err}
		}
		if *version {
			fmt.Println(buildinfo.Version(fs.Name()))
			return nil, ErrVersion
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		if consumed := len(args) - fs.NArg(); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, fs.Args()...), nil // after "--" nothing is a flag
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// ErrVersion is Parse's answer to -version, after printing the version.
var ErrVersion = errors.New("version printed")

// errUsage marks a command-line error found by the flag package.
type errUsage struct{ error }

func (e errUsage) Unwrap() error { return e.error }

// Run runs f with a context that ends on SIGINT or SIGTERM (a second signal
// kills the process) and exits the process: 0 on success, -h or -version; 2
// on a command-line mistake (a flag the flag package refused, or an error
// marked config.Invalid), printed on one line; 1 with the error printed
// otherwise.
func Run(name string, f func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // the first signal stops cleanly; a second one kills at once
	}()
	err := f(ctx)
	stop()
	var usage errUsage
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp), errors.Is(err, ErrVersion):
		os.Exit(0)
	case errors.As(err, &usage), errors.Is(err, config.ErrInvalid):
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Tune re-executes the daemon under runtimetune's settings, for a daemon
// whose requests wait on the network; a failure is only a warning. Run's
// context is ctx: once a signal has ended it, the daemon does not restart,
// since the new image would never hear of that signal.
func Tune(ctx context.Context, name string) {
	if ctx.Err() != nil {
		return
	}
	if err := runtimetune.Restart(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: warning: %v; going on with the Go runtime's defaults\n", name, err)
	}
}

// JoinFlags registers on fs how a slave or the monitor finds its master:
// -iface, -master and -discovery-port, with the values already in the
// variables as defaults.
func JoinFlags(fs *flag.FlagSet, iface, master *string, discoveryPort *int) {
	fs.StringVar(iface, "iface", *iface, "interface to use (e.g. lo); default: first up non-loopback IPv4 interface with broadcast")
	fs.StringVar(master, "master", *master, "HOST[:PORT] of the master (PORT defaults to -discovery-port): join by unicast instead of broadcast")
	fs.IntVar(discoveryPort, "discovery-port", *discoveryPort, "the master's UDP discovery port, for the broadcast")
}

// SecretFlag registers -secret on fs. The value may instead come from the
// environment variable LB_SECRET, which keeps it out of process lists; Secret
// resolves the two after parsing.
func SecretFlag(fs *flag.FlagSet) *string {
	return fs.String("secret", "", "shared secret that authenticates every handshake packet (HMAC); the same on every node; default $LB_SECRET")
}

// Secret returns the -secret value, or LB_SECRET when the flag was not set.
func Secret(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv("LB_SECRET")
}
