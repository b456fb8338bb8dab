// Package usertask is the operator's own tasks on a slave: the -task and
// -tasks FILE specs, and the runners that compute them, a program (exec=) or
// a local HTTP service (http=). It knows nothing of sessions or links: the
// slave asks it for the offer, and hands it a name and input bytes.
//
// The master never chooses what runs: it names a task this slave's operator
// defined, and its input reaches the program on stdin or the service as a
// request body, never a shell or a command line.
package usertask
