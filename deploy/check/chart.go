package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// checkChart checks a chart's files without rendering them: Chart.yaml,
// values.yaml and every ci/*-values.yaml (each merged over values.yaml, as
// Helm does) against values.schema.json, and the config.file they carry
// against the kanri binary. It is what is left to check where no helm
// binary can be had, and runs beside helm lint where it can.
func checkChart(c *checker, k *kanri, dir string) {
	var chart struct {
		APIVersion  string `json:"apiVersion"`
		Name        string `json:"name"`
		Version     string `json:"version"`
		AppVersion  string `json:"appVersion"`
		Type        string `json:"type"`
		Description string `json:"description"`
	}
	where := filepath.Join(dir, "Chart.yaml")
	data, err := os.ReadFile(where)
	if c.check(err == nil, where, "%v", err) && c.check(yaml.Unmarshal(data, &chart) == nil, where, "not YAML") {
		c.check(chart.APIVersion == "v2", where, "apiVersion %q, want v2", chart.APIVersion)
		c.check(chart.Name == filepath.Base(dir), where, "name %q differs from the directory %q", chart.Name, filepath.Base(dir))
		c.check(semver.MatchString(chart.Version), where, "version %q is not SemVer", chart.Version)
		c.check(chart.AppVersion != "", where, "appVersion is empty")
	}

	schemaFile := filepath.Join(dir, "values.schema.json")
	raw, err := os.ReadFile(schemaFile)
	if !c.check(err == nil, schemaFile, "%v", err) {
		return
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if !c.check(err == nil, schemaFile, "not JSON: %v", err) {
		return
	}
	compiler := jsonschema.NewCompiler()
	if !c.check(compiler.AddResource("values.schema.json", doc) == nil, schemaFile, "cannot be added") {
		return
	}
	schema, err := compiler.Compile("values.schema.json")
	if !c.check(err == nil, schemaFile, "does not compile: %v", err) {
		return
	}

	defaults := readValues(c, filepath.Join(dir, "values.yaml"))
	if defaults == nil {
		return
	}
	sets := map[string]map[string]any{filepath.Join(dir, "values.yaml"): defaults}
	overrides, _ := filepath.Glob(filepath.Join(dir, "ci", "*-values.yaml"))
	for _, f := range overrides {
		if v := readValues(c, f); v != nil {
			sets[f] = merge(deepCopy(defaults), v)
		}
	}
	for _, f := range sortedKeys(sets) {
		values := sets[f]
		j, _ := json.Marshal(values)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if c.check(err == nil, f, "%v", err) {
			err := schema.Validate(inst)
			c.check(err == nil, f, "does not meet values.schema.json: %v", err)
		}
		if cfg, _ := dig(values, "config", "file").(string); cfg != "" {
			err := k.validateConfig([]byte(cfg))
			c.check(err == nil, f, "kanri rejects config.file: %v", err)
		}
	}
}

var semver = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

func readValues(c *checker, file string) map[string]any {
	data, err := os.ReadFile(file)
	if !c.check(err == nil, file, "%v", err) {
		return nil
	}
	var v map[string]any
	err = yaml.Unmarshal(data, &v)
	if !c.check(err == nil, file, "not YAML: %v", err) {
		return nil
	}
	if strings.TrimSpace(string(data)) != "" {
		c.check(v != nil, file, "holds no mapping")
	}
	if v == nil {
		v = map[string]any{}
	}
	return v
}

// merge lays src over dst as Helm does with -f: maps merge, anything else
// replaces.
func merge(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

func deepCopy(m map[string]any) map[string]any {
	j, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(j, &out)
	return out
}
