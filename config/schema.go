package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/invopop/jsonschema"
)

// schemaID names the schema. Editors fetch a schema from the URL in the file's
// "# yaml-language-server: $schema=…" comment; the $id only has to be absolute and stable.
const schemaID = "https://github.com/graph-network-harness/harness/services.schema.json"

// Patterns of the schema. Go validates them with RE2 and editors with ECMAScript (u flag), so
// they use only what both read alike: no lookaround, no \d, no escapes but of punctuation.
const (
	// patInterpolated matches a value holding ${…}. What it becomes is known only when the
	// file is read, so wherever a number, a duration or a word from a list is expected, such
	// a string is accepted too.
	patInterpolated = `\$\{`
	patName         = `^[a-z0-9][a-z0-9_-]*$`
	patInteger      = `^[+-]?[0-9]+$|` + patInterpolated
	patNumber       = `^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$|` + patInterpolated
	// patDuration is what strconv.ParseInt (seconds) or time.ParseDuration reads without a
	// sign; patNonZero rules out zero, which only start_period may be.
	patDuration = `^\+?([0-9]+|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$|` + patInterpolated
	patNonZero  = `[1-9]|` + patInterpolated
	// patMinusZero is a zero with a minus sign ("-0", "-0s"), which reads as 0.
	patMinusZero = `^-(0+|((0+(\.0*)?|\.0+)(ns|us|µs|μs|ms|s|m|h))+)$`
	// patPort is PORT, HOST:CONTAINER, IPv4:HOST:CONTAINER or [IP]:[HOST:]CONTAINER, then an
	// optional /tcp or /udp (any case), as decoder.port splits it.
	patPort    = `^(\[[^\]/]*\]:([+-]?[0-9]+:)?|([0-9.]*:)?[+-]?[0-9]+:)?\+?[0-9]+(/([tT][cC][pP]|[uU][dD][pP])?)?$|` + patInterpolated
	patSubnet  = `^[0-9A-Fa-f:.]+/[0-9]+$|` + patInterpolated
	patVolume  = `^[^:]*:(/[^:]*)?(:(ro|rw))?$|` + patInterpolated
	patRestart = `^on-failure:\+?[0-9]+$|` + patInterpolated
	patStatus  = `^[1-5]([0-9][0-9]|[xX][xX])$|` + patInterpolated
	patXKey    = `^x-`
)

// Schema returns the JSON Schema (draft 2020-12) of the services file as users write it, for
// editors and linters. It is generated from the typed model and then reshaped where the file
// differs from the model: networks and services are mappings keyed by name, many keys take a
// short scalar form besides the mapping, and every value may hold ${…}.
//
// Every file that Load accepts validates. The reverse does not hold: the schema rejects
// unknown keys, unknown types, malformed values and keys that do not apply to a service's
// type, but only Load checks references, cycles, ports in use and the like.
func Schema() ([]byte, error) {
	r := &jsonschema.Reflector{
		Anonymous:      true, // the $id is set below
		ExpandedStruct: true, // the stack is the root, not a $ref to it
		// Required keys are what the loader requires, set below; the model's json tags say
		// how the normalized stack is written, not what a file must hold.
		RequiredFromJSONSchemaTags: true,
		Mapper:                     schemaRef,
	}
	root := r.Reflect(&Stack{})
	root.ID = schemaID
	root.Title = "harness services.yaml"

	b := &schemaBuilder{defs: root.Definitions, objects: maps.Clone(root.Definitions)}
	b.objects["Stack"] = root
	b.scalars()
	b.stack(root)
	b.networks()
	b.services()
	b.healthChecks()
	b.describe() // before shortForms, which moves each object's description to its wrapper
	b.shortForms()
	if b.err != nil {
		return nil, fmt.Errorf("config schema: %w", b.err)
	}
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("config schema: %w", err)
	}
	return append(out, '\n'), nil
}

// schemaRef maps the types whose file form is not their Go shape to a definition that
// schemaBuilder.scalars adds. For any other type it returns nil, and the reflector walks it.
func schemaRef(t reflect.Type) *jsonschema.Schema {
	switch t {
	case reflect.TypeFor[string](), reflect.TypeFor[Template]():
		return ref("Text")
	case reflect.TypeFor[int]():
		return ref("Integer")
	case reflect.TypeFor[float64]():
		return ref("Number")
	case reflect.TypeFor[Duration]():
		return ref("Duration")
	case reflect.TypeFor[netip.Prefix]():
		return ref("Subnet")
	case reflect.TypeFor[Volume]():
		return ref("Volume")
	case reflect.TypeFor[Env](), reflect.TypeFor[map[string]string](), reflect.TypeFor[map[string]Template]():
		return ref("Env") // env, labels, build args and headers are all read by decoder.env
	case reflect.TypeFor[ServiceType](), reflect.TypeFor[NetworkType](),
		reflect.TypeFor[Condition](), reflect.TypeFor[RestartPolicy]():
		return ref(t.Name())
	}
	return nil
}

// schemaBuilder reshapes the reflected schema. The first problem (a key or definition that the
// model no longer has) is kept in err, so that Schema fails instead of writing a wrong schema.
type schemaBuilder struct {
	defs jsonschema.Definitions
	// objects are the mapping forms by name: the reflected structs and the root as "Stack".
	objects map[string]*jsonschema.Schema
	err     error
}

func (b *schemaBuilder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf(format, args...)
	}
}

// object returns the mapping form of a model type.
func (b *schemaBuilder) object(name string) *jsonschema.Schema {
	o, ok := b.objects[name]
	if !ok || o.Properties == nil {
		b.fail("no object %s in the model", name)
		return &jsonschema.Schema{Properties: jsonschema.NewProperties()}
	}
	return o
}

// set replaces the schema of a key of a model type, keeping its place.
func (b *schemaBuilder) set(object, key string, s *jsonschema.Schema) {
	o := b.object(object)
	if _, ok := o.Properties.Get(key); !ok {
		b.fail("no key %s in %s", key, object)
		return
	}
	o.Properties.Set(key, s)
}

// alias adds key as another name of an existing key, right after it.
func (b *schemaBuilder) alias(object, key, of string) {
	o := b.object(object)
	s, ok := o.Properties.Get(of)
	if !ok {
		b.fail("no key %s in %s", of, object)
		return
	}
	c := *s
	o.Properties.Set(key, &c)
	if err := o.Properties.MoveAfter(key, of); err != nil {
		b.fail("%s: %w", object, err)
	}
}

func ref(name string) *jsonschema.Schema { return &jsonschema.Schema{Ref: "#/$defs/" + name} }

// types is a schema of several JSON types; jsonschema.Schema holds only one in Type.
func types(ts ...string) *jsonschema.Schema {
	return &jsonschema.Schema{Extras: map[string]any{"type": ts}}
}

// nullable lets s be null too: the key written with no value, which the loader reads as not
// written. The loader rejects null for numbers, durations and the types, so those never are.
func nullable(s *jsonschema.Schema) *jsonschema.Schema {
	if s.Type == "" {
		return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{s, {Type: "null"}}}
	}
	t := s.Type
	s.Type = ""
	if s.Extras == nil {
		s.Extras = map[string]any{}
	}
	s.Extras["type"] = []string{t, "null"}
	return s
}

// ranged is the integer definition narrowed to [lo, hi], or to lo and up when hi is 0; a
// string ("${N}") is not checked.
func ranged(lo, hi int) *jsonschema.Schema {
	s := ref("Integer")
	s.Minimum = json.Number(strconv.Itoa(lo))
	if hi > 0 {
		s.Maximum = json.Number(strconv.Itoa(hi))
	}
	return s
}

func list(items *jsonschema.Schema) *jsonschema.Schema {
	return nullable(&jsonschema.Schema{Type: "array", Items: items})
}

func strPattern(pattern string) *jsonschema.Schema {
	return &jsonschema.Schema{Type: "string", Pattern: pattern}
}

func extensionKeys() map[string]*jsonschema.Schema {
	return map[string]*jsonschema.Schema{patXKey: {}} // {} marshals as true: anything
}

// words is a string that is one of ws, or matches one of the patterns (other spellings the
// loader reads), or holds ${…}; with blank, also empty or null, which the loader replaces
// with the default. The enum comes first: editors complete from it.
func words(description string, ws []string, blank bool, patterns ...string) *jsonschema.Schema {
	enum := &jsonschema.Schema{Type: "string"}
	for _, w := range ws {
		enum.Enum = append(enum.Enum, w)
	}
	s := &jsonschema.Schema{Description: description, AnyOf: []*jsonschema.Schema{enum}}
	for _, p := range patterns {
		s.AnyOf = append(s.AnyOf, strPattern(p))
	}
	s.AnyOf = append(s.AnyOf, ref("Interpolated"))
	if blank {
		s.AnyOf = append(s.AnyOf, ref("Blank"))
	}
	return s
}

// describeWords adds the hover help of each word of a words definition, in the
// enumDescriptions form that VS Code reads (other tools ignore the keyword).
func (b *schemaBuilder) describeWords(name string, help map[string]string) {
	enum := b.defs[name].AnyOf[0]
	var texts []string
	for _, w := range enum.Enum {
		text, ok := help[w.(string)]
		if !ok {
			b.fail("no description of %s %q", name, w)
		}
		texts = append(texts, text)
	}
	enum.Extras = map[string]any{"enumDescriptions": texts}
}

// anyCase writes a pattern of the words ws, one of which must match whole, in any case:
// ["tcp", "udp"] → "^([tT][cC][pP]|[uU][dD][pP])$"; prefix is an optional prefix, in any case.
func anyCase(prefix string, ws []string) string {
	alts := make([]string, len(ws))
	for i, w := range ws {
		alts[i] = caseless(w)
	}
	p := "^"
	if prefix != "" {
		p += "(" + caseless(prefix) + ")?"
	}
	return p + "(" + strings.Join(alts, "|") + ")$"
}

// caseless writes a pattern of s that ignores case: "tcp" → "[tT][cC][pP]".
func caseless(s string) string {
	var b strings.Builder
	for _, r := range s {
		lo, up := unicode.ToLower(r), unicode.ToUpper(r)
		if lo == up {
			b.WriteRune(r)
			continue
		}
		fmt.Fprintf(&b, "[%c%c]", lo, up)
	}
	return b.String()
}

// scalars adds the definitions of values: the targets of schemaRef and the shared forms.
func (b *schemaBuilder) scalars() {
	d := b.defs
	d["Interpolated"] = &jsonschema.Schema{
		Type: "string", Pattern: patInterpolated,
		Description: "A value with ${…}, checked once the file is read.",
	}
	d["Blank"] = types("string", "null")
	d["Blank"].MaxLength = new(uint64)
	d["Blank"].Description = "Empty: the default."
	d["Text"] = types("string", "number", "boolean", "null")
	d["Text"].Description = "Text. Any scalar is read as its text, with ${VAR} substituted; no value means not set."
	d["TextOrList"] = &jsonschema.Schema{
		Description: "One value, or a list of them.",
		AnyOf:       []*jsonschema.Schema{ref("Text"), {Type: "array", Items: ref("Text")}},
	}
	d["Integer"] = &jsonschema.Schema{
		Description: `An integer, or a string that becomes one ("${N:-3}").`,
		AnyOf:       []*jsonschema.Schema{{Type: "integer"}, strPattern(patInteger)},
	}
	d["Number"] = &jsonschema.Schema{
		Description: "A number, or a string that becomes one.",
		AnyOf:       []*jsonschema.Schema{{Type: "number"}, strPattern(patNumber)},
	}
	positive := strPattern(patDuration)
	positive.AllOf = []*jsonschema.Schema{{Pattern: patNonZero}}
	d["Duration"] = &jsonschema.Schema{
		Description: `A positive duration: "10s", "1m30s", "250ms", or integer seconds.`,
		AnyOf:       []*jsonschema.Schema{{Type: "integer", Minimum: "1"}, positive},
	}
	d["DurationOrZero"] = &jsonschema.Schema{
		Description: `A duration: "10s", "1m30s", "250ms", or integer seconds; 0 is allowed.`,
		AnyOf:       []*jsonschema.Schema{{Type: "integer", Minimum: "0"}, strPattern(patDuration + "|" + patMinusZero)},
	}
	d["PortNumber"] = &jsonschema.Schema{
		Description: "A port, 1-65535.",
		AnyOf:       []*jsonschema.Schema{{Type: "integer", Minimum: "1", Maximum: "65535"}, strPattern(patInteger)},
	}
	d["Subnet"] = strPattern(patSubnet)
	d["Subnet"].Description = "A subnet in CIDR form, such as 10.0.0.0/24."
	d["Volume"] = strPattern(patVolume)
	d["Volume"].Description = "SOURCE:TARGET[:ro|rw]; TARGET is an absolute path."
	d["Env"] = &jsonschema.Schema{
		Description: "A mapping NAME: value, or a list of NAME=value (a bare NAME takes its value from the environment of the harness command).",
		AnyOf: []*jsonschema.Schema{
			{Type: "object", AdditionalProperties: ref("Text")},
			{Type: "array", Items: ref("Text")},
			{Type: "null"},
		},
	}
	d["ServiceType"] = words("Where and how the service runs.", serviceTypes, false)
	b.describeWords("ServiceType", map[string]string{
		string(TypeProcess): "a local process",
		string(TypeDocker):  "a container on the local Docker engine",
		string(TypeRemote):  "a process (binary) or a container (image, build) on a node",
		string(TypePackage): "a versioned package deployed to a node",
	})
	d["NetworkType"] = words("The kind of network.", networkTypes, false)
	b.describeWords("NetworkType", map[string]string{
		string(NetworkLocal):     "the controller's own host",
		string(NetworkLAN):       "hosts the controller reaches directly",
		string(NetworkWireGuard): "hosts joined by a WireGuard mesh that harness builds",
	})
	d["Condition"] = words("What the dependency must reach first; default: healthy when it has a health check, else started.", conditions, true)
	d["RestartPolicy"] = words("When a stopped or unhealthy service is restarted; default no.", policies, true)
	d["LogLevel"] = words("Default info.", logLevels, true)
	protocols := []string{"tcp", "udp"}
	d["Protocol"] = words("Default tcp.", protocols, true, anyCase("", protocols)) // normalize lowercases it
	short := make([]string, len(signals))
	for i, s := range signals {
		short[i] = strings.TrimPrefix(s, "SIG")
	}
	// signalName reads TERM, term and sigterm as SIGTERM.
	d["Signal"] = words("A signal such as SIGTERM, TERM or term; default SIGTERM.", signals, true, anyCase("SIG", short))
	d["HTTPStatus"] = &jsonschema.Schema{
		Description: `A status such as 200, or a class such as "2xx"; default 2xx.`,
		AnyOf: []*jsonschema.Schema{
			{Type: "integer", Minimum: "100", Maximum: "599"},
			strPattern(patStatus),
			ref("Blank"),
		},
	}
}

// stack reshapes the top level.
func (b *schemaBuilder) stack(root *jsonschema.Schema) {
	version := &jsonschema.Schema{AnyOf: []*jsonschema.Schema{{}, ref("Interpolated")}}
	for _, v := range SupportedVersions {
		version.AnyOf[0].Enum = append(version.AnyOf[0].Enum, v)
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			version.AnyOf[0].Enum = append(version.AnyOf[0].Enum, json.Number(v)) // version: 1.0
		}
	}
	b.set("Stack", "version", version)
	name := types("string", "number", "boolean", "null")
	name.Pattern = `^([a-z0-9][a-z0-9_-]*)?$|` + patInterpolated
	b.set("Stack", "name", name)
	b.set("Stack", "networks", namedMapping("Network"))
	b.set("Stack", "services", namedMapping("Service"))
	root.Required = []string{"version", "services"}
	nullable(b.object("Settings"))
	b.set("Settings", "log_level", ref("LogLevel"))
	b.set("Settings", "parallelism", ranged(1, 0))
}

// namedMapping is a mapping of names to item, in file order; x- keys are skipped.
func namedMapping(item string) *jsonschema.Schema {
	return nullable(&jsonschema.Schema{
		Type:                 "object",
		PropertyNames:        strPattern(patXKey + "|" + patName),
		PatternProperties:    extensionKeys(),
		AdditionalProperties: ref(item),
	})
}

func (b *schemaBuilder) networks() {
	b.object("Network").Required = []string{"type"}
	b.set("Network", "listen_port", ref("PortNumber"))
	b.set("Network", "nodes", list(ref("Node")))
	// Which keys each type takes, as validateNetworks checks.
	only := map[string][]NetworkType{
		"container_subnet": {NetworkLocal},
		"nodes":            {NetworkLAN, NetworkWireGuard},
		"listen_port":      {NetworkWireGuard},
		"interface":        {NetworkWireGuard},
	}
	for _, t := range networkTypes {
		then := notApplicable(only, NetworkType(t))
		if NetworkType(t) != NetworkLocal {
			then.Required = []string{"subnet"}
		}
		b.object("Network").AllOf = append(b.object("Network").AllOf, ifType(t, then))
	}
	b.object("Node").Required = []string{"host", "ssh_user"}
	b.set("Node", "ssh_port", ref("PortNumber"))
}

// notApplicable forbids the keys that only other types take.
func notApplicable[T comparable](only map[string][]T, t T) *jsonschema.Schema {
	s := &jsonschema.Schema{}
	for _, key := range slices.Sorted(maps.Keys(only)) {
		if !slices.Contains(only[key], t) {
			if s.Properties == nil {
				s.Properties = jsonschema.NewProperties()
			}
			s.Properties.Set(key, jsonschema.FalseSchema)
		}
	}
	return s
}

// ifType applies then to the objects whose type is t.
func ifType(t string, then *jsonschema.Schema) *jsonschema.Schema {
	cond := &jsonschema.Schema{Properties: jsonschema.NewProperties(), Required: []string{"type"}}
	cond.Properties.Set("type", &jsonschema.Schema{Const: t})
	return &jsonschema.Schema{If: cond, Then: then}
}

func requiredOneOf(keys ...string) []*jsonschema.Schema {
	out := make([]*jsonschema.Schema, len(keys))
	for i, k := range keys {
		out[i] = &jsonschema.Schema{Required: []string{k}}
	}
	return out
}

func (b *schemaBuilder) services() {
	const svc = "Service"
	b.object(svc).Required = []string{"type"}
	b.set(svc, "args", list(ref("Text")))
	b.set(svc, "command", ref("TextOrList"))
	b.set(svc, "entrypoint", ref("TextOrList"))
	b.set(svc, "volumes", list(ref("Volume")))
	b.set(svc, "keep_releases", ranged(1, 0))
	b.set(svc, "env_file", ref("TextOrList"))
	b.alias(svc, "environment", "env")
	b.set(svc, "ports", list(ref("Port")))
	b.set(svc, "dependencies", ref("Dependencies"))
	b.alias(svc, "depends_on", "dependencies")
	b.set(svc, "stop_signal", ref("Signal"))
	for _, t := range serviceTypes {
		then := notApplicable(applies, ServiceType(t))
		switch ServiceType(t) {
		case TypeProcess:
			then.Required = []string{"binary"}
		case TypeDocker:
			then.AnyOf = requiredOneOf("image", "build")
		case TypeRemote:
			then.Required = []string{"host"}
			then.AnyOf = requiredOneOf("binary", "image", "build")
		case TypePackage:
			then.Required = []string{"host", "package"}
		}
		b.object(svc).AllOf = append(b.object(svc).AllOf, ifType(t, then))
	}

	b.set("Port", "target", ref("PortNumber"))
	b.set("Port", "published", ranged(0, 65535))
	b.set("Port", "protocol", ref("Protocol"))
	b.object("Port").Required = []string{"target"}

	b.object("Dependency").Required = []string{"service"}
	condition := &jsonschema.Schema{
		Type:                 "object",
		Properties:           jsonschema.NewProperties(),
		PatternProperties:    extensionKeys(),
		AdditionalProperties: jsonschema.FalseSchema,
	}
	cond := ref("Condition")
	cond.Description = "started | healthy | completed_successfully."
	condition.Properties.Set("condition", cond)
	b.defs["Dependencies"] = &jsonschema.Schema{
		AnyOf: []*jsonschema.Schema{
			{Type: "array", Items: ref("Dependency")},
			{
				Type:                 "object",
				PatternProperties:    extensionKeys(),
				AdditionalProperties: nullable(condition),
			},
			{Type: "null"},
		},
	}

	b.set("Restart", "max_restarts", ranged(0, 0))
	nullable(b.object("Backoff"))
	multiplier := ref("Number")
	multiplier.Minimum = "1"
	b.set("Backoff", "multiplier", multiplier)
	jitter := ref("Number")
	jitter.Minimum, jitter.Maximum = "0", "1"
	b.set("Backoff", "jitter", jitter)
}

func (b *schemaBuilder) healthChecks() {
	const hc = "HealthCheck"
	b.set(hc, "command", ref("TextOrList"))
	b.set(hc, "args", list(ref("Text")))
	b.set(hc, "start_period", ref("DurationOrZero"))
	b.set(hc, "retries", ranged(1, 0))
	b.set(hc, "success_threshold", ranged(1, 0))
	b.object(hc).OneOf = requiredOneOf(checkKinds...)
	b.object(hc).DependentRequired = map[string][]string{"args": {"command"}}

	b.set("HTTPCheck", "expected_status", ref("HTTPStatus"))
	b.object("HTTPCheck").Required = []string{"url"}
	b.set("TCPCheck", "port", ref("PortNumber"))
	b.object("TCPCheck").Required = []string{"port"}
	b.set("GRPCCheck", "port", ref("PortNumber"))
	b.object("GRPCCheck").Required = []string{"port"}
}

// shortForms lets the objects that have one be written in their scalar form, and marks x- keys
// as allowed in every object.
func (b *schemaBuilder) shortForms() {
	for _, o := range b.objects {
		if o.Properties != nil {
			o.PatternProperties = extensionKeys()
		}
	}
	short := map[string][]*jsonschema.Schema{
		"Build":      {ref("Text")},                                  // the context
		"Dependency": {ref("Text")},                                  // the service
		"HTTPCheck":  {ref("Text")},                                  // the URL
		"TCPCheck":   {ref("PortNumber")},                            // the port
		"GRPCCheck":  {ref("PortNumber")},                            // the port
		"Restart":    {ref("RestartPolicy"), strPattern(patRestart)}, // on-failure:N
		"Port": {
			{Type: "integer", Minimum: "1", Maximum: "65535"},
			strPattern(patPort),
		},
	}
	for _, name := range slices.Sorted(maps.Keys(short)) {
		o := b.object(name)
		b.defs[name] = &jsonschema.Schema{Description: o.Description, AnyOf: append(short[name], o)}
		o.Description = ""
	}
}

// describe sets the hover help of every object and key.
func (b *schemaBuilder) describe() {
	for name, keys := range schemaDescriptions() {
		o := b.object(name)
		for key, text := range keys {
			if key == "" {
				o.Description = text
				continue
			}
			s, ok := o.Properties.Get(key)
			if !ok {
				b.fail("describe: no key %s in %s", key, name)
				continue
			}
			s.Description = text
		}
	}
}

// schemaDescriptions are short forms of services-yaml.md, by object and key ("" for the
// object itself).
func schemaDescriptions() map[string]map[string]string {
	return map[string]map[string]string{
		"Stack": {
			"":            "The services file of harness: the networks and services of one stack.",
			"version":     `The file format; "1.0".`,
			"name":        "The stack's name, [a-z0-9][a-z0-9_-]*; default: the config file's directory name.",
			"description": "What the stack is, for people.",
			"settings":    "Defaults for every service.",
			"networks":    "Networks by name. A local network exists even when none is declared.",
			"services":    "Services by name, in the order of the file (may be empty: services: {}).",
		},
		"Settings": {
			"":                      "Defaults for every service.",
			"log_level":             "debug | info | warn | error; default info.",
			"health_check_interval": "Default interval of health checks; default 30s.",
			"startup_timeout":       `From the start request until a service meets "ready"; default 300s.`,
			"shutdown_timeout":      "Grace between the stop signal and SIGKILL; default 30s.",
			"parallelism":           "Most services started or stopped at once; default 16.",
			"known_hosts":           "Host keys of the nodes; default ~/.ssh/known_hosts.",
		},
		"Network": {
			"":                 "A network: the local host, a LAN the controller reaches directly, or a WireGuard mesh.",
			"type":             "local | lan | wireguard.",
			"subnet":           "local: addresses of process services, default 127.0.0.0/8. lan, wireguard: required; mesh addresses are allocated here.",
			"container_subnet": "local only: the subnet of the harness Docker bridge network.",
			"listen_port":      "wireguard only: the UDP port of the mesh; default 51820.",
			"interface":        "wireguard only: the interface name; default wg-harness.",
			"nodes":            "lan and wireguard: the hosts, reached over SSH.",
		},
		"Node": {
			"":         "A host of a lan or wireguard network, reached over SSH. Its host key must be in known_hosts (harness hosts trust NODE).",
			"name":     "The name services use in host; default: host.",
			"host":     "An address or DNS name; SSH goes here.",
			"ssh_user": "The SSH user.",
			"ssh_port": "The SSH port; default 22.",
			"ssh_key":  "A private key file; default: ssh-agent, then ~/.ssh/id_*.",
			"endpoint": "wireguard only: where peers reach the node's mesh; default host:listen_port.",
		},
		"Service": {
			"":                 "A service. Which keys apply depends on type.",
			"type":             "process | docker | remote | package.",
			"description":      "What the service is, for people.",
			"network":          "Default: the local network for process and docker, the node's network for remote and package.",
			"host":             "remote, package: the node (its name or host) the service runs on.",
			"binary":           "process, remote: the program; a PATH lookup or a path relative to the config file.",
			"args":             "process, remote: the arguments.",
			"working_dir":      "The working directory.",
			"user":             "The user to run as (needs root).",
			"image":            "docker, remote: the image; required unless build is given.",
			"build":            "docker, remote: build the image from a context directory, or {context, dockerfile, args}.",
			"command":          "docker, remote: overrides the image CMD; a list, or one string split into words as a shell does.",
			"entrypoint":       "docker, remote: overrides the image ENTRYPOINT; a list, or one string split into words.",
			"volumes":          "docker, remote: SOURCE:TARGET[:ro]; a SOURCE starting with ., / or ~ is a bind mount, else a named volume.",
			"package":          "package: a directory with manifest.yaml, or a .tar.gz made by harness package.",
			"version":          "package: the version to deploy; default: the manifest's version.",
			"install_path":     "package: where the package is installed; default /opt/harness/SERVICE.",
			"keep_releases":    "package: releases kept on the node for rollback; default 5.",
			"env_file":         "dotenv files, relative to the config file; env wins over them.",
			"env":              "The environment: a mapping, or a list of NAME=value.",
			"environment":      "Alias of env.",
			"ports":            `Ports the service listens on (for ${svc.port}, tcp checks and conflicts): 8080, "8080:80", "127.0.0.1:9000:9000/udp", or {target, published, host_ip, protocol}.`,
			"dependencies":     "Services to wait for: names, {service, condition}, or a mapping of name to {condition}.",
			"depends_on":       "Alias of dependencies.",
			"health_check":     "How harness decides the service is healthy: exactly one of command, http, tcp, grpc, log_line.",
			"restart":          "no (default) | on-failure | on-failure:N | always | unless-stopped, or {policy, max_restarts, backoff, reset_after}.",
			"startup_timeout":  `From the start request until the service meets "ready"; default: settings.startup_timeout.`,
			"shutdown_timeout": "Grace between stop_signal and SIGKILL; default: settings.shutdown_timeout.",
			"stop_signal":      "The signal that stops the service; default SIGTERM.",
			"labels":           "Labels: a mapping, or a list of NAME=value.",
		},
		"Build": {
			"":           "How to build the image: a context directory, or {context, dockerfile, args}.",
			"context":    "The directory sent to the builder, relative to the config file.",
			"dockerfile": "Relative to the context; default Dockerfile.",
			"args":       "Build arguments: a mapping, or a list of NAME=value.",
		},
		"Port": {
			"":          `A port: 8080, "8080", "HOST:CONTAINER", "IP:HOST:CONTAINER[/udp]", "[IPv6]:HOST:CONTAINER", or {target, published, host_ip, protocol}.`,
			"target":    "The port inside the service.",
			"published": "Containers: the host port; 0 or none: not published.",
			"host_ip":   "The host address to publish on.",
			"protocol":  "tcp (default) | udp.",
		},
		"Dependency": {
			"":          "A service name, or {service, condition}.",
			"service":   "The service depended on.",
			"condition": "started | healthy | completed_successfully.",
		},
		"HealthCheck": {
			"":                  "Exactly one kind: command, http, tcp, grpc or log_line. Every kind runs where the service runs.",
			"command":           "Exec check, healthy on exit 0; a list, or one string split into words.",
			"args":              "Arguments of command.",
			"http":              "HTTP check: a URL, or {url, method, headers, expected_status, body_contains}.",
			"tcp":               "TCP check: a port, or {host, port}.",
			"grpc":              "gRPC check (grpc.health.v1): a port, or {host, port, service}.",
			"log_line":          "A regular expression matched against the service's output.",
			"interval":          "Between checks once healthy; default settings.health_check_interval.",
			"timeout":           "Per check; a check past it counts as failed. Default min(10s, interval).",
			"retries":           "Consecutive failures before unhealthy; default 3.",
			"start_period":      "Failures inside this grace do not count; default 0s.",
			"start_interval":    "Until the first success, checks run at once and back off up to this; default min(1s, interval).",
			"success_threshold": "Consecutive successes before healthy; default 1.",
		},
		"HTTPCheck": {
			"":                "An HTTP check: a URL, or {url, method, headers, expected_status, body_contains}.",
			"url":             "An http:// or https:// URL; localhost is the service's own host.",
			"method":          "Default GET.",
			"headers":         "Request headers: a mapping, or a list of NAME=value.",
			"expected_status": `200, or a class such as "2xx" (default).`,
			"body_contains":   "Text the response body must contain.",
		},
		"TCPCheck": {
			"":     "A TCP check: a port, or {host, port}.",
			"host": "Default: the service's own address.",
			"port": "The port to connect to.",
		},
		"GRPCCheck": {
			"":        "A gRPC health check: a port, or {host, port, service}.",
			"host":    "Default: the service's own address.",
			"port":    "The port of the gRPC server.",
			"service": "The service to ask about; empty: the server as a whole.",
		},
		"Restart": {
			"":             "The restart policy: no (default) | on-failure | on-failure:N | always | unless-stopped, or the mapping form.",
			"policy":       "no | on-failure | always | unless-stopped.",
			"max_restarts": "Restarts before giving up; 0: no limit.",
			"backoff":      "The delay between restarts: initial, times multiplier after each restart up to max, varied by ±jitter.",
			"reset_after":  "The restart count resets after this much healthy running; default 5m.",
		},
		"Backoff": {
			"":           "Exponential backoff with jitter.",
			"initial":    "The first delay; default 1s.",
			"max":        "The longest delay; default 1m.",
			"multiplier": "At least 1; default 2.",
			"jitter":     "A fraction from 0 to 1; default 0.2.",
		},
	}
}
