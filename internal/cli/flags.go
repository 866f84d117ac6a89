package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/pflag"
)

// output is the value of -o: how a command prints what it reports.
type output string

// The output formats.
const (
	outputTable output = "table" // for people; the default
	outputJSON  output = "json"  // one JSON document on stdout
)

func (o *output) String() string { return string(*o) }

// Set accepts only the known formats, so a bad -o is a flag error, hence a usage error.
func (o *output) Set(s string) error {
	switch output(s) {
	case outputTable, outputJSON:
		*o = output(s)
		return nil
	}
	return fmt.Errorf("want %s or %s", outputTable, outputJSON)
}

func (o *output) Type() string { return "table|json" }

// jsonFlag is --json, the alias of -o json.
func jsonFlag(o *output) *pflag.Flag {
	return &pflag.Flag{
		Name:        "json",
		Usage:       "same as -o json",
		Value:       &jsonValue{o},
		DefValue:    "false",
		NoOptDefVal: "true",
	}
}

// jsonValue is the boolean --json; setting it true sets -o json.
type jsonValue struct{ o *output }

func (v *jsonValue) String() string { return strconv.FormatBool(*v.o == outputJSON) }

func (v *jsonValue) Set(s string) error {
	on, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	if on {
		*v.o = outputJSON
	} else if *v.o == outputJSON {
		*v.o = outputTable
	}
	return nil
}

func (v *jsonValue) Type() string { return "bool" }
