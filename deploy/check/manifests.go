package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// rendered is what one `helm template` produced, by kind.
type rendered struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	jobs        []*batchv1.Job
	pdbs        []*policyv1.PodDisruptionBudget
	accounts    map[string]*corev1.ServiceAccount
	monitors    []map[string]any
	kinds       map[string]int
}

// typed are the kinds the chart may render, decoded into their API types.
var typed = map[string]func() any{
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                              func() any { return &corev1.Secret{} },
	"v1/ServiceAccount":                      func() any { return &corev1.ServiceAccount{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"batch/v1/Job":                           func() any { return &batchv1.Job{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
}

func checkManifests(c *checker, k *kanri, file, expect string) {
	data, err := readFile(file)
	if !c.check(err == nil, file, "%v", err) {
		return
	}
	r := &rendered{
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		accounts: map[string]*corev1.ServiceAccount{}, kinds: map[string]int{},
	}
	seen := map[string]bool{}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if !c.check(err == nil, file, "document %d: %v", i, err) {
			return
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var meta struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        metav1.ObjectMeta `json:"metadata"`
		}
		if !c.check(yaml.Unmarshal(doc, &meta) == nil, file, "document %d is not YAML", i) {
			continue
		}
		where := fmt.Sprintf("%s: %s %s", file, meta.Kind, meta.Metadata.Name)
		c.check(meta.APIVersion != "" && meta.Kind != "" && meta.Metadata.Name != "", where, "document %d lacks apiVersion, kind or metadata.name", i)
		id := meta.Kind + "/" + meta.Metadata.Name
		c.check(!seen[id], where, "rendered twice")
		seen[id] = true
		r.kinds[meta.Kind]++

		if meta.APIVersion == "monitoring.coreos.com/v1" && meta.Kind == "ServiceMonitor" {
			var m map[string]any
			if c.check(yaml.Unmarshal(doc, &m) == nil, where, "not YAML") {
				r.monitors = append(r.monitors, m)
			}
			continue
		}
		newObj, ok := typed[meta.APIVersion+"/"+meta.Kind]
		if !c.check(ok, where, "unexpected apiVersion/kind %s/%s", meta.APIVersion, meta.Kind) {
			continue
		}
		obj := newObj()
		// Strict: a misspelt or misplaced field fails, as the API server's
		// field validation would.
		if err := yaml.UnmarshalStrict(doc, obj); !c.check(err == nil, where, "does not decode as %s: %v", meta.Kind, err) {
			continue
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			r.deployments = append(r.deployments, o)
		case *corev1.Service:
			r.services = append(r.services, o)
		case *corev1.ConfigMap:
			r.configMaps[o.Name] = o
		case *corev1.Secret:
			r.secrets[o.Name] = o
		case *corev1.ServiceAccount:
			r.accounts[o.Name] = o
		case *autoscalingv2.HorizontalPodAutoscaler:
			r.hpas = append(r.hpas, o)
		case *batchv1.Job:
			r.jobs = append(r.jobs, o)
		case *policyv1.PodDisruptionBudget:
			r.pdbs = append(r.pdbs, o)
		}
	}

	checkKinds(c, file, r.kinds, expect)
	for _, d := range r.deployments {
		checkDeployment(c, k, file, r, d)
	}
	for _, j := range r.jobs {
		checkJob(c, k, file, r, j)
	}
	for _, h := range r.hpas {
		checkHPA(c, file, r, h)
	}
	for _, s := range r.services {
		checkService(c, file, r, s)
	}
	for _, p := range r.pdbs {
		where := file + ": PodDisruptionBudget " + p.Name
		c.check(len(podsSelected(r, p.Spec.Selector)) > 0, where, "selects no Deployment's pods")
	}
	for _, m := range r.monitors {
		checkServiceMonitor(c, file, r, m)
	}
	// Every kanri.yaml the chart renders must be one kanri accepts.
	for _, name := range sortedKeys(r.configMaps) {
		if cfg, ok := r.configMaps[name].Data["kanri.yaml"]; ok {
			err := k.validateConfig([]byte(cfg))
			c.check(err == nil, file+": ConfigMap "+name, "kanri rejects its kanri.yaml: %v", err)
		}
	}
	for _, name := range sortedKeys(r.secrets) {
		if cfg, ok := r.secrets[name].Data["kanri.yaml"]; ok {
			err := k.validateConfig(cfg)
			c.check(err == nil, file+": Secret "+name, "kanri rejects its kanri.yaml: %v", err)
		}
	}
}

func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out.Write(line)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

func checkKinds(c *checker, file string, got map[string]int, expect string) {
	if expect == "" {
		return
	}
	want := map[string]int{}
	for _, kv := range strings.Split(expect, ",") {
		kind, n, ok := strings.Cut(strings.TrimSpace(kv), "=")
		count, err := strconv.Atoi(n)
		if !ok || err != nil {
			c.fail(file, "bad -expect entry %q", kv)
			return
		}
		want[kind] = count
	}
	for _, kind := range sortedKeys(want) {
		c.check(got[kind] == want[kind], file, "%d %s rendered, want %d", got[kind], kind, want[kind])
	}
	for _, kind := range sortedKeys(got) {
		_, ok := want[kind]
		c.check(ok, file, "%d %s rendered, want none", got[kind], kind)
	}
}

// podsSelected returns the Deployments and Jobs whose pod template the
// selector matches.
func podsSelected(r *rendered, sel *metav1.LabelSelector) []string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() {
		return nil
	}
	var out []string
	for _, d := range r.deployments {
		if s.Matches(labels.Set(d.Spec.Template.Labels)) {
			out = append(out, d.Name)
		}
	}
	return out
}

func checkDeployment(c *checker, k *kanri, file string, r *rendered, d *appsv1.Deployment) {
	where := file + ": Deployment " + d.Name
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	c.check(err == nil && !sel.Empty() && sel.Matches(labels.Set(d.Spec.Template.Labels)), where,
		"selector %v does not match its own pod labels", d.Spec.Selector)
	for _, other := range r.deployments {
		if other != d && err == nil && sel.Matches(labels.Set(other.Spec.Template.Labels)) {
			c.fail(where, "selector also matches the pods of Deployment %s", other.Name)
		}
	}
	pod := d.Spec.Template.Spec
	checkPodRefs(c, where, r, pod)
	if !c.check(len(pod.Containers) == 1, where, "%d containers, want 1", len(pod.Containers)) {
		return
	}
	ct := pod.Containers[0]
	command := firstArg(ct)
	if !c.check(command == "server" || command == "worker", where, "runs %v, want kanri server or kanri worker", ct.Args) {
		return
	}
	port := namedPort(ct, "http")
	c.check(port > 0, where, "container has no port named http")
	// Probes: ready on /readyz, alive on /healthz, on the http port.
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readinessProbe", ct.ReadinessProbe, "/readyz"}, {"livenessProbe", ct.LivenessProbe, "/healthz"}, {"startupProbe", ct.StartupProbe, "/healthz"}} {
		if p.name == "startupProbe" && p.probe == nil {
			continue
		}
		ok := p.probe != nil && p.probe.HTTPGet != nil && p.probe.HTTPGet.Path == p.path &&
			(p.probe.HTTPGet.Port.StrVal == "http" || int(p.probe.HTTPGet.Port.IntVal) == port)
		c.check(ok, where, "%s is not an HTTP GET of %s on the http port", p.name, p.path)
	}
	env := containerEnv(c, where, r, ct)
	checkEnv(c, k, where, command, env, "KANRI_DATABASE_URL", "KANRI_HTTP", "KANRI_TEMPORAL_ADDRESS", "KANRI_CONFIG")
	if addr, ok := env["KANRI_HTTP"]; ok {
		checkListen(c, where, addr, port)
	}
	// Every file named in the environment lies in a mounted volume.
	for _, name := range []string{"KANRI_CONFIG", "KANRI_TEMPORAL_TLS_CA", "KANRI_TEMPORAL_TLS_CERT", "KANRI_TEMPORAL_TLS_KEY"} {
		if p, ok := env[name]; ok {
			c.check(mounted(ct, p), where, "%s %s is in no volume mount", name, p)
		}
	}
	if env["KANRI_TEMPORAL_TLS_CERT"] != "" || env["KANRI_TEMPORAL_TLS_KEY"] != "" {
		c.check(env["KANRI_TEMPORAL_TLS_CERT"] != "" && env["KANRI_TEMPORAL_TLS_KEY"] != "", where, "mTLS needs both KANRI_TEMPORAL_TLS_CERT and KANRI_TEMPORAL_TLS_KEY")
	}
	if command == "worker" {
		for _, h := range r.hpas {
			if h.Spec.ScaleTargetRef.Name == d.Name {
				c.check(d.Spec.Replicas == nil, where, "sets replicas although HPA %s scales it", h.Name)
			}
		}
	}
}

func checkJob(c *checker, k *kanri, file string, r *rendered, j *batchv1.Job) {
	where := file + ": Job " + j.Name
	hooks := strings.Split(strings.ReplaceAll(j.Annotations["helm.sh/hook"], " ", ""), ",")
	c.check(slices.Contains(hooks, "pre-install") && slices.Contains(hooks, "pre-upgrade"), where,
		"is not a pre-install,pre-upgrade hook (helm.sh/hook %q)", j.Annotations["helm.sh/hook"])
	pod := j.Spec.Template.Spec
	c.check(pod.RestartPolicy == corev1.RestartPolicyNever || pod.RestartPolicy == corev1.RestartPolicyOnFailure, where,
		"restartPolicy %q", pod.RestartPolicy)
	checkPodRefs(c, where, r, pod)
	// At pre-install, nothing else of the release exists yet: whatever the
	// Job refers to must be a hook itself (or exist outside the chart).
	for _, ref := range podRefs(pod) {
		if s, ok := r.secrets[ref.name]; ok && ref.kind == "Secret" {
			c.check(s.Annotations["helm.sh/hook"] != "", where, "uses Secret %s, which does not exist yet when the pre-install hook runs", ref.name)
		}
		if _, ok := r.configMaps[ref.name]; ok && ref.kind == "ConfigMap" {
			c.fail(where, "uses ConfigMap %s, which does not exist yet when the pre-install hook runs", ref.name)
		}
	}
	if pod.ServiceAccountName != "" {
		_, own := r.accounts[pod.ServiceAccountName]
		c.check(!own, where, "uses ServiceAccount %s, which does not exist yet when the pre-install hook runs", pod.ServiceAccountName)
	}
	if !c.check(len(pod.Containers) == 1, where, "%d containers, want 1", len(pod.Containers)) {
		return
	}
	ct := pod.Containers[0]
	if !c.check(firstArg(ct) == "migrate", where, "runs %v, want kanri migrate", ct.Args) {
		return
	}
	checkEnv(c, k, where, "migrate", containerEnv(c, where, r, ct), "KANRI_DATABASE_URL")
}

func checkHPA(c *checker, file string, r *rendered, h *autoscalingv2.HorizontalPodAutoscaler) {
	where := file + ": HorizontalPodAutoscaler " + h.Name
	ref := h.Spec.ScaleTargetRef
	var target *appsv1.Deployment
	for _, d := range r.deployments {
		if ref.Kind == "Deployment" && ref.APIVersion == "apps/v1" && d.Name == ref.Name {
			target = d
		}
	}
	if !c.check(target != nil, where, "scales %s %s, which is not rendered", ref.Kind, ref.Name) {
		return
	}
	c.check(len(target.Spec.Template.Spec.Containers) == 1 && firstArg(target.Spec.Template.Spec.Containers[0]) == "worker", where,
		"scales %s, which does not run kanri worker", target.Name)
	min := int32(1)
	if h.Spec.MinReplicas != nil {
		min = *h.Spec.MinReplicas
	}
	c.check(min >= 1 && min <= h.Spec.MaxReplicas, where, "minReplicas %d, maxReplicas %d", min, h.Spec.MaxReplicas)
	cpu := false
	for _, m := range h.Spec.Metrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
			m.Resource.Target.AverageUtilization != nil {
			cpu = *m.Resource.Target.AverageUtilization > 0 && *m.Resource.Target.AverageUtilization <= 100
		}
	}
	c.check(cpu, where, "has no CPU utilization target between 1 and 100")
	// Utilization is relative to the request: without one the HPA cannot act.
	ct := target.Spec.Template.Spec.Containers[0]
	_, ok := ct.Resources.Requests[corev1.ResourceCPU]
	c.check(ok, where, "Deployment %s requests no CPU: a utilization target cannot be computed", target.Name)
}

func checkService(c *checker, file string, r *rendered, s *corev1.Service) {
	where := file + ": Service " + s.Name
	pods := podsSelected(r, &metav1.LabelSelector{MatchLabels: s.Spec.Selector})
	if !c.check(len(pods) == 1, where, "selects the pods of %d Deployments (%v), want 1", len(pods), pods) {
		return
	}
	var d *appsv1.Deployment
	for _, x := range r.deployments {
		if x.Name == pods[0] {
			d = x
		}
	}
	for _, p := range s.Spec.Ports {
		if p.TargetPort.StrVal != "" {
			c.check(namedPort(d.Spec.Template.Spec.Containers[0], p.TargetPort.StrVal) > 0, where,
				"targetPort %q is no port of Deployment %s", p.TargetPort.StrVal, d.Name)
		}
	}
}

func checkServiceMonitor(c *checker, file string, r *rendered, m map[string]any) {
	name, _ := dig(m, "metadata", "name").(string)
	where := file + ": ServiceMonitor " + name
	spec, _ := m["spec"].(map[string]any)
	endpoints, _ := spec["endpoints"].([]any)
	if !c.check(len(endpoints) > 0, where, "has no endpoints") {
		return
	}
	var sel metav1.LabelSelector
	raw, _ := yaml.Marshal(spec["selector"])
	if !c.check(yaml.UnmarshalStrict(raw, &sel) == nil, where, "selector is not a label selector") {
		return
	}
	s, err := metav1.LabelSelectorAsSelector(&sel)
	if !c.check(err == nil && !s.Empty(), where, "selector is empty or invalid") {
		return
	}
	var matched []*corev1.Service
	for _, svc := range r.services {
		if s.Matches(labels.Set(svc.Labels)) {
			matched = append(matched, svc)
		}
	}
	c.check(len(matched) > 0, where, "selects no Service")
	for _, e := range endpoints {
		ep, _ := e.(map[string]any)
		port, _ := ep["port"].(string)
		p, _ := ep["path"].(string)
		c.check(p == "/metrics", where, "endpoint path %q, want /metrics", p)
		for _, svc := range matched {
			found := false
			for _, sp := range svc.Spec.Ports {
				found = found || sp.Name == port
			}
			c.check(found, where, "endpoint port %q is no port of Service %s", port, svc.Name)
		}
	}
}

func dig(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func firstArg(ct corev1.Container) string {
	args := append(append([]string{}, ct.Command...), ct.Args...)
	if len(ct.Command) > 0 && strings.HasSuffix(ct.Command[0], "kanri") {
		args = args[1:]
	}
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func namedPort(ct corev1.Container, name string) int {
	for _, p := range ct.Ports {
		if p.Name == name {
			return int(p.ContainerPort)
		}
	}
	return 0
}

func mounted(ct corev1.Container, file string) bool {
	for _, m := range ct.VolumeMounts {
		if file == m.MountPath || strings.HasPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return true
		}
	}
	return false
}

// containerEnv returns the container's environment: literal values as
// they are, values from a Secret or ConfigMap of the chart resolved, and
// from one outside the chart as "<from NAME>".
func containerEnv(c *checker, where string, r *rendered, ct corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range ct.Env {
		_, dup := env[e.Name]
		c.check(!dup, where, "%s is set twice", e.Name)
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			if s, ok := r.secrets[ref.Name]; ok {
				v, has := s.Data[ref.Key]
				if !has {
					if sv, ok := s.StringData[ref.Key]; ok {
						v, has = []byte(sv), true
					}
				}
				c.check(has, where, "%s: Secret %s has no key %q", e.Name, ref.Name, ref.Key)
				env[e.Name] = string(v)
			} else {
				env[e.Name] = "<from " + ref.Name + ">"
			}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			if cm, ok := r.configMaps[ref.Name]; ok {
				v, has := cm.Data[ref.Key]
				c.check(has, where, "%s: ConfigMap %s has no key %q", e.Name, ref.Name, ref.Key)
				env[e.Name] = v
			} else {
				env[e.Name] = "<from " + ref.Name + ">"
			}
		default:
			env[e.Name] = "<from field>"
		}
	}
	if v, ok := env["KANRI_DATABASE_URL"]; ok && !strings.HasPrefix(v, "<from ") {
		c.check(strings.HasPrefix(v, "postgres://") || strings.HasPrefix(v, "postgresql://"), where, "KANRI_DATABASE_URL is not a PostgreSQL URL")
	}
	return env
}

type ref struct{ kind, name string }

func podRefs(pod corev1.PodSpec) []ref {
	var out []ref
	for _, v := range pod.Volumes {
		if v.Secret != nil {
			out = append(out, ref{"Secret", v.Secret.SecretName})
		}
		if v.ConfigMap != nil {
			out = append(out, ref{"ConfigMap", v.ConfigMap.Name})
		}
	}
	for _, ct := range pod.Containers {
		for _, e := range ct.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				out = append(out, ref{"Secret", e.ValueFrom.SecretKeyRef.Name})
			}
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
				out = append(out, ref{"ConfigMap", e.ValueFrom.ConfigMapKeyRef.Name})
			}
		}
	}
	return out
}

// checkPodRefs checks volumes and mounts: each mount names a volume, and a
// volume of a Secret or ConfigMap the chart renders lists keys it has.
func checkPodRefs(c *checker, where string, r *rendered, pod corev1.PodSpec) {
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		_, dup := vols[v.Name]
		c.check(!dup, where, "volume %q is declared twice", v.Name)
		vols[v.Name] = v
	}
	for _, ct := range pod.Containers {
		for _, m := range ct.VolumeMounts {
			_, ok := vols[m.Name]
			c.check(ok, where, "container %s mounts unknown volume %q", ct.Name, m.Name)
			c.check(path.IsAbs(m.MountPath), where, "mount path %q is not absolute", m.MountPath)
		}
	}
	for _, v := range pod.Volumes {
		switch {
		case v.Secret != nil:
			if s, ok := r.secrets[v.Secret.SecretName]; ok {
				for _, it := range v.Secret.Items {
					_, has := s.Data[it.Key]
					c.check(has, where, "volume %s: Secret %s has no key %q", v.Name, s.Name, it.Key)
				}
			}
		case v.ConfigMap != nil:
			if cm, ok := r.configMaps[v.ConfigMap.Name]; ok {
				for _, it := range v.ConfigMap.Items {
					_, has := cm.Data[it.Key]
					c.check(has, where, "volume %s: ConfigMap %s has no key %q", v.Name, cm.Name, it.Key)
				}
			}
		}
	}
}
