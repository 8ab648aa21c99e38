package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
)

// keygenBytes is the size of a key from lbd keygen: AES-256.
const keygenBytes = 32

// runKeygen prints a new random gossip encryption key in base64, the form
// that encrypt, LBD_ENCRYPT and a keyring file line take.
func runKeygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lbd keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lbd keygen\n\n"+
			"Prints a new random 32-byte gossip encryption key in base64, for encrypt\n"+
			"(LBD_ENCRYPT) or a line of keyring_file. Every node of a cluster needs the same key.")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lbd keygen: unexpected argument %q: keygen takes none\n", fs.Arg(0))
		return exitUsage
	}
	key := make([]byte, keygenBytes)
	if _, err := rand.Read(key); err != nil {
		fmt.Fprintf(stderr, "lbd keygen: read random bytes: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(key))
	return exitOK
}
