// ocvalidate validates OpenConfig configuration documents against the OpenConfig schema
// generated into github.com/openconfig/ygot's exampleoc package, with ygot's own
// unmarshal (unknown nodes are errors) and validation (types, ranges, patterns, lengths,
// enumerations and identities, list keys).
//
// Leafref targets are not checked: ytypes resolves every leafref from the root by
// reflection, which measured 7 s for a 100-service document on this project's machines;
// the tests check them with libyang (yanglint) instead, and intentloop's parser refuses
// references to sub-interfaces that are not configured.
//
// It is a long-lived filter: one RFC 7951 JSON document (the whole configuration, keyed by
// module-qualified top-level containers) per input line, one JSON verdict per output line,
// {"ok":true} or {"ok":false,"error":"..."}. The lab's gNMI targets keep one running, so a
// Set costs a pipe round trip, not a process start. `-version` prints what it was built from.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/openconfig/ygot/exampleoc"
	"github.com/openconfig/ygot/ytypes"
)

type verdict struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

func validate(line []byte) verdict {
	device := &exampleoc.Device{}
	if err := exampleoc.Unmarshal(line, device); err != nil {
		return verdict{Error: err.Error()}
	}
	if err := device.ΛValidate(&ytypes.LeafrefOptions{IgnoreMissingData: true}); err != nil {
		return verdict{Error: err.Error()}
	}
	return verdict{OK: true}
}

func main() {
	version := flag.Bool("version", false, "print the schema source and exit")
	flag.Parse()
	if *version {
		fmt.Println("ocvalidate: github.com/openconfig/ygot v0.36.0 exampleoc")
		return
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<30)
	out := bufio.NewWriter(os.Stdout)
	encoder := json.NewEncoder(out)
	for in.Scan() {
		if err := encoder.Encode(validate(in.Bytes())); err != nil {
			fmt.Fprintln(os.Stderr, "ocvalidate:", err)
			os.Exit(1)
		}
		if err := out.Flush(); err != nil {
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "ocvalidate:", err)
		os.Exit(1)
	}
}
