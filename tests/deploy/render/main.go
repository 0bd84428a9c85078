// Command render is a small stand-in for `helm template`, used by the chart checks in tests/deploy when
// Helm is not installed. It loads a chart directory (Chart.yaml, values.yaml, templates/, crds/),
// merges values as Helm does (values files, --set, --set-string; a null deletes a default), checks the
// chart's kubeVersion, and renders every template with text/template, sprig and Helm's own functions
// (include, tpl, required, fail, toYaml, fromYaml, toJson, fromJson, lookup) and the .Values, .Release,
// .Chart, .Capabilities, .Template and .Files objects. It does not validate values.schema.json: the
// caller does that with --show-values (prints the merged values as JSON).
//
// Usage: render --chart DIR [-f FILE]... [--set K=V]... [--set-string K=V]... [--name N]
// [--namespace NS] [--kube-version 1.30.0] [--api-versions G/V]... [--include-crds] [--show-values]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	semver "github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"
)

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// files is .Files: the chart's files outside templates/.
type files map[string][]byte

func (f files) Get(name string) string      { return string(f[name]) }
func (f files) GetBytes(name string) []byte { return f[name] }

type apiVersions []string

func (a apiVersions) Has(gv string) bool {
	for _, v := range a {
		if v == gv {
			return true
		}
	}
	return false
}

// Group/versions a current cluster serves without extensions (what Helm assumes by default).
var builtinAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v2", "networking.k8s.io/v1", "node.k8s.io/v1",
	"rbac.authorization.k8s.io/v1", "admissionregistration.k8s.io/v1", "apiextensions.k8s.io/v1",
	"coordination.k8s.io/v1", "events.k8s.io/v1", "scheduling.k8s.io/v1", "storage.k8s.io/v1",
	"authentication.k8s.io/v1", "authorization.k8s.io/v1", "certificates.k8s.io/v1", "discovery.k8s.io/v1",
}

type options struct {
	chart, name, namespace, kubeVersion string
	valueFiles, sets, setStrings, apis  stringList
	includeCRDs, showValues             bool
}

func main() {
	var o options
	flag.StringVar(&o.chart, "chart", "", "chart directory")
	flag.Var(&o.valueFiles, "f", "values file (repeatable)")
	flag.Var(&o.sets, "set", "K=V[,K=V] (repeatable)")
	flag.Var(&o.setStrings, "set-string", "K=V, values kept as strings (repeatable)")
	flag.StringVar(&o.name, "name", "gpupool", "release name")
	flag.StringVar(&o.namespace, "namespace", "default", "release namespace")
	flag.StringVar(&o.kubeVersion, "kube-version", "1.30.0", "Kubernetes version for .Capabilities")
	flag.Var(&o.apis, "api-versions", "extra group/version for .Capabilities.APIVersions (repeatable)")
	flag.BoolVar(&o.includeCRDs, "include-crds", false, "print crds/ first")
	flag.BoolVar(&o.showValues, "show-values", false, "print the merged values as JSON and exit")
	flag.Parse()
	if o.chart == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: render --chart DIR [-f FILE]... [--set K=V]... (see the source)")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func readYAMLMap(path string) (map[string]interface{}, error) {
	m := map[string]interface{}{}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return m, nil
}

func mergedValues(o options) (values, error) {
	defaults, err := readValuesFile(filepath.Join(o.chart, "values.yaml"))
	if err != nil {
		return nil, err
	}
	user := values{}
	for _, f := range o.valueFiles {
		v, err := readValuesFile(f)
		if err != nil {
			return nil, err
		}
		user = mergeOverride(user, v)
	}
	for _, s := range o.sets {
		if err := applySet(user, s, false); err != nil {
			return nil, err
		}
	}
	for _, s := range o.setStrings {
		if err := applySet(user, s, true); err != nil {
			return nil, err
		}
	}
	return coalesce(defaults, user), nil
}

// chartMetadata maps Chart.yaml's keys to the field names templates use (.Chart.AppVersion, ...).
func chartMetadata(raw map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range raw {
		switch k {
		case "apiVersion":
			out["APIVersion"] = v
		case "appVersion":
			out["AppVersion"] = v
		case "kubeVersion":
			out["KubeVersion"] = v
		default:
			out[strings.ToUpper(k[:1])+k[1:]] = v
		}
	}
	return out
}

func checkKubeVersion(constraint interface{}, version string) error {
	c, ok := constraint.(string)
	if !ok || c == "" {
		return nil
	}
	con, err := semver.NewConstraint(c)
	if err != nil {
		return fmt.Errorf("Chart.yaml kubeVersion %q: %v", c, err)
	}
	v, err := semver.NewVersion(version)
	if err != nil {
		return fmt.Errorf("--kube-version %q: %v", version, err)
	}
	if !con.Check(v) {
		return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes v%s", c, v)
	}
	return nil
}

// Rewrites Go's nested template errors for fail/required into Helm's shorter form.
var callErr = regexp.MustCompile(`(?s)^template: ([^ ]+?): .*error calling (?:fail|required): (.*)$`)

func helmError(err error) error {
	if m := callErr.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("execution error at (%s): %s", m[1], m[2])
	}
	return err
}

func run(o options) error {
	rawChart, err := readYAMLMap(filepath.Join(o.chart, "Chart.yaml"))
	if err != nil {
		return err
	}
	chart := chartMetadata(rawChart)
	chartName, _ := chart["Name"].(string)
	if err := checkKubeVersion(chart["KubeVersion"], o.kubeVersion); err != nil {
		return err
	}
	vals, err := mergedValues(o)
	if err != nil {
		return err
	}
	if o.showValues {
		data, err := json.MarshalIndent(vals, "", "  ")
		if err != nil {
			return err
		}
		fmt.Println(string(data))
		return nil
	}

	chartFiles := files{}
	var templateNames []string
	templateText := map[string]string{}
	err = filepath.WalkDir(o.chart, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(o.chart, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasPrefix(rel, "templates/") {
			name := chartName + "/" + rel
			templateNames = append(templateNames, name)
			templateText[name] = string(data)
		} else {
			chartFiles[rel] = data
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(templateNames)

	root := template.New("gpupool-render").Option("missingkey=zero")
	root.Funcs(funcMap(root))
	for _, name := range templateNames {
		if _, err := root.New(name).Parse(templateText[name]); err != nil {
			return err
		}
	}

	v, _ := semver.NewVersion(o.kubeVersion)
	capabilities := map[string]interface{}{
		"KubeVersion": map[string]interface{}{
			"Version": "v" + v.String(), "GitVersion": "v" + v.String(),
			"Major": fmt.Sprint(v.Major()), "Minor": fmt.Sprint(v.Minor()),
		},
		"APIVersions": apiVersions(append(append([]string{}, builtinAPIVersions...), o.apis...)),
	}
	release := map[string]interface{}{
		"Name": o.name, "Namespace": o.namespace, "Service": "Helm", "IsInstall": true, "IsUpgrade": false,
		"Revision": 1,
	}

	var out strings.Builder
	if o.includeCRDs {
		var crds []string
		for name := range chartFiles {
			if strings.HasPrefix(name, "crds/") && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
				crds = append(crds, name)
			}
		}
		sort.Strings(crds)
		for _, name := range crds {
			fmt.Fprintf(&out, "---\n# Source: %s/%s\n%s\n", chartName, name, strings.TrimSpace(chartFiles.Get(name)))
		}
	}
	for _, name := range templateNames {
		base := filepath.Base(name)
		if strings.HasPrefix(base, "_") {
			continue
		}
		top := map[string]interface{}{
			"Values": vals, "Release": release, "Chart": chart, "Capabilities": capabilities, "Files": chartFiles,
			"Template": map[string]interface{}{"Name": name, "BasePath": chartName + "/templates"},
		}
		var b strings.Builder
		if err := root.ExecuteTemplate(&b, name, top); err != nil {
			return helmError(err)
		}
		text := strings.ReplaceAll(b.String(), "<no value>", "")
		// NOTES.txt is rendered (its errors count) but is not a manifest.
		if base == "NOTES.txt" || strings.TrimSpace(text) == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", name, strings.TrimSpace(text))
	}
	fmt.Print(out.String())
	return nil
}
