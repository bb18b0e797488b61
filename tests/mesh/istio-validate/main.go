// Command istio-validate prints Istio's own verdict on VirtualServices and
// DestinationRules: the errors and warnings istiod's validating webhook would
// answer, computed by the same code (crd.ConvertObject, then the schema's
// validation function from istio.io/istio/pkg/config/validation).
//
// Input: one Kubernetes object as JSON per line on stdin. Output: one JSON line
// per input line, in order: {"errors": [...], "warnings": [...]}, plus
// "decode_error" when the object cannot be read as the kind it names. Output is
// flushed whenever no more input is buffered, so a caller can feed batches.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/config/schema/resource"
	"istio.io/istio/pkg/log"
)

type verdict struct {
	Errors      []string `json:"errors"`
	Warnings    []string `json:"warnings"`
	DecodeError string   `json:"decode_error,omitempty"`
}

// flatten turns Istio's nested error values (go-multierror, errors.Join, the
// agent.Validation wrapper) into one message per leaf error.
func flatten(err error) []string {
	if err == nil {
		return nil
	}
	if many, ok := err.(interface{ WrappedErrors() []error }); ok {
		var out []string
		for _, e := range many.WrappedErrors() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range joined.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []string{err.Error()}
}

func judge(line []byte) verdict {
	v := verdict{Errors: []string{}, Warnings: []string{}}
	var obj crd.IstioKind
	if err := json.Unmarshal(line, &obj); err != nil {
		v.DecodeError = "cannot decode configuration: " + err.Error()
		return v
	}
	gvk := obj.GroupVersionKind()
	s, ok := collections.Pilot.FindByGroupKind(resource.FromKubernetesGVK(&gvk))
	if !ok {
		v.DecodeError = fmt.Sprintf("unrecognized type %v", gvk)
		return v
	}
	if obj.Namespace == "" {
		obj.Namespace = "default"
	}
	cfg, err := crd.ConvertObject(s, &obj, "cluster.local")
	if err != nil {
		v.DecodeError = "error decoding configuration: " + err.Error()
		return v
	}
	warnings, err := s.ValidateConfig(*cfg)
	v.Errors = append(v.Errors, flatten(err)...)
	v.Warnings = append(v.Warnings, flatten(warnings)...)
	return v
}

func main() {
	// Istio logs each warning it finds; only the JSON verdicts belong on stdout.
	for _, sc := range log.Scopes() {
		sc.SetOutputLevel(log.NoneLevel)
	}
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			if encErr := enc.Encode(judge(line)); encErr != nil {
				fmt.Fprintln(os.Stderr, encErr)
				os.Exit(1)
			}
		}
		if in.Buffered() == 0 || err != nil {
			if flushErr := out.Flush(); flushErr != nil {
				os.Exit(1)
			}
		}
		if err != nil {
			return
		}
	}
}
