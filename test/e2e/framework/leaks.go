package framework

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// Everything `kubectl pgo` printed during the run, and the secret values of
// every test namespace, so that TestMain can check that no plugin output
// holds a password or a private key (see CheckPluginOutput).
var recorded struct {
	sync.Mutex
	outputs []Output
	secrets []SecretValue
}

// Output is what one `kubectl pgo` call printed.
type Output struct {
	Args   []string
	Result Result
}

// SecretValue is one sensitive value of a Secret: Where names it (never the
// value) for messages.
type SecretValue struct {
	Where, Value string
}

// Record keeps the output of a `kubectl pgo` call. PGO records its calls;
// tests that run the plugin themselves (with stdin, without a kubeconfig)
// call it too.
func Record(args []string, res Result) {
	recorded.Lock()
	defer recorded.Unlock()
	recorded.outputs = append(recorded.outputs, Output{Args: slices.Clone(args), Result: res})
}

// sensitiveKey matches the data keys of Secrets that hold a password or a
// private key (ca.key, db.key, password, an S3 key); certificates are public.
var sensitiveKey = regexp.MustCompile(`(?i)(password|key|secret|token)`)

// sensitiveValues returns the sensitive values of a Secret, each also as
// the base64 text that a YAML or JSON dump of the Secret would show, and the
// body lines of a PEM key, so that a partial print is found too.
func sensitiveValues(s *corev1.Secret) []SecretValue {
	var out []SecretValue
	for key, data := range s.Data {
		if !sensitiveKey.MatchString(key) || strings.HasSuffix(key, ".crt") || len(data) < 8 {
			continue
		}
		where := fmt.Sprintf("Secret %s/%s key %s", s.Namespace, s.Name, key)
		value := string(data)
		out = append(out, SecretValue{where, strings.TrimSpace(value)}, SecretValue{where + " (base64)", base64.StdEncoding.EncodeToString(data)})
		out = append(out, pemLines(where, value)...)
		// A GCS service-account key is JSON: its private key is a field, whose PEM lines are
		// joined by escaped newlines, so the field itself and its lines are looked for too.
		var fields map[string]any
		if json.Unmarshal(data, &fields) == nil {
			for name, v := range fields {
				address := strings.HasSuffix(name, "_uri") || strings.HasSuffix(name, "_url") // token_uri
				if text, ok := v.(string); ok && sensitiveKey.MatchString(name) && !address && len(text) >= 8 {
					out = append(out, SecretValue{where + " field " + name, text})
					out = append(out, pemLines(where+" field "+name, text)...)
				}
			}
		}
	}
	return out
}

// pemLines are the body lines of a PEM key in value, each a secret value, so that a partial
// print is found too.
func pemLines(where, value string) []SecretValue {
	var out []SecretValue
	for _, line := range strings.Split(value, "\n") {
		if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
			out = append(out, SecretValue{where + " (a PEM line)", line})
		}
	}
	return out
}

// Leak is a secret value found in some text.
type Leak struct {
	Secret, In string
}

// FindLeaks returns each secret value that occurs in a text; texts maps a
// description of where the text comes from to the text.
func FindLeaks(secrets []SecretValue, texts map[string]string) []Leak {
	var leaks []Leak
	for in, text := range texts {
		for _, s := range secrets {
			if s.Value != "" && strings.Contains(text, s.Value) {
				leaks = append(leaks, Leak{Secret: s.Where, In: in})
			}
		}
	}
	return leaks
}

// withoutSecretObjects drops the Secret documents from a YAML stream that
// `create cluster -o yaml` printed on request, the one place where the
// plugin shows a Secret (as kubectl get -o yaml does).
func withoutSecretObjects(text string) string {
	docs := strings.Split(text, "\n---\n")
	kept := docs[:0]
	for _, d := range docs {
		if !regexp.MustCompile(`(?m)^kind: Secret$`).MatchString(d) {
			kept = append(kept, d)
		}
	}
	return strings.Join(kept, "\n---\n")
}

// CheckPluginOutput checks every recorded plugin output against every
// recorded secret, writes a summary to w, and returns the leaks.
func CheckPluginOutput(w io.Writer) []Leak {
	recorded.Lock()
	defer recorded.Unlock()
	texts := map[string]string{}
	size := 0
	for i, o := range recorded.outputs {
		out := o.Result.Stdout
		if slices.Contains(o.Args, "yaml") {
			out = withoutSecretObjects(out)
		}
		texts[fmt.Sprintf("output %d of kubectl pgo %s", i, strings.Join(o.Args, " "))] = out + "\n" + o.Result.Stderr
		size += len(o.Result.Stdout) + len(o.Result.Stderr)
	}
	leaks := FindLeaks(recorded.secrets, texts)
	fmt.Fprintf(w, "secret leak check: %d kubectl pgo outputs (%d bytes) against %d secret values: %d found\n",
		len(recorded.outputs), size, len(recorded.secrets), len(leaks))
	for _, l := range leaks {
		fmt.Fprintf(w, "LEAK: %s in %s\n", l.Secret, l.In)
	}
	return leaks
}

// checkNamespaceLeaks runs before a test namespace is deleted: it records
// the namespace's secret values for CheckPluginOutput, and checks now that
// none is in the YAML of a non-Secret object of the namespace or in the log
// of a Job's pod.
func (e *Env) checkNamespaceLeaks(t *testing.T, ns string) {
	ctx := context.Background()
	e.RecordSecrets(t, ns)
	// Every secret the namespace held during the test, also those of
	// clusters deleted since.
	var secrets []SecretValue
	recorded.Lock()
	for _, v := range recorded.secrets {
		if strings.HasPrefix(v.Where, "Secret "+ns+"/") {
			secrets = append(secrets, v)
		}
	}
	recorded.Unlock()
	if len(secrets) == 0 {
		return
	}

	texts, err := e.namespaceTexts(ctx, ns)
	if err != nil {
		t.Errorf("secret leak check in %s: %v", ns, err)
	}
	for _, l := range FindLeaks(secrets, texts) {
		t.Errorf("secret leak: %s is in %s", l.Secret, l.In)
	}
	t.Logf("secret leak check of namespace %s: %d secret values, %d objects and logs searched", ns, len(secrets), len(texts))
}

// RecordSecrets records the sensitive values of the Secrets of a namespace
// for CheckPluginOutput, and returns them. PGO calls it after each command
// run with -n, so the secrets of a cluster deleted later are kept.
func (e *Env) RecordSecrets(t *testing.T, ns string) []SecretValue {
	t.Helper()
	list, err := e.Client.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		if !apierrors.IsNotFound(err) {
			t.Errorf("secret leak check: listing the Secrets of %s: %v", ns, err)
		}
		return nil
	}
	var secrets []SecretValue
	for i := range list.Items {
		secrets = append(secrets, sensitiveValues(&list.Items[i])...)
	}
	recorded.Lock()
	defer recorded.Unlock()
	for _, v := range secrets {
		if !slices.Contains(recorded.secrets, v) {
			recorded.secrets = append(recorded.secrets, v)
		}
	}
	return secrets
}

// recordAfter records the Secrets of the namespace a `kubectl pgo` call
// named with -n, so that the secrets of a cluster deleted later in the test
// are still checked for.
func (e *Env) recordAfter(t *testing.T, args []string) {
	t.Helper()
	for i, a := range args {
		ns := ""
		switch {
		case (a == "-n" || a == "--namespace") && i+1 < len(args):
			ns = args[i+1]
		case strings.HasPrefix(a, "-n="), strings.HasPrefix(a, "--namespace="):
			ns = a[strings.Index(a, "=")+1:]
		}
		if ns != "" {
			e.RecordSecrets(t, ns)
			return
		}
	}
}

// namespaceTexts returns the YAML of every object of the namespace except
// Secrets, of every resource that can be listed, and the logs of the
// containers of the Jobs' pods.
func (e *Env) namespaceTexts(ctx context.Context, ns string) (map[string]string, error) {
	texts := map[string]string{}
	dyn, err := dynamic.NewForConfig(e.Config)
	if err != nil {
		return nil, err
	}
	lists, err := e.Client.Discovery().ServerPreferredNamespacedResources()
	if err != nil && len(lists) == 0 {
		return nil, err
	}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if r.Name == "secrets" || !slices.Contains(r.Verbs, "list") {
				continue
			}
			items, err := dyn.Resource(gv.WithResource(r.Name)).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for _, item := range items.Items {
				data, err := yaml.Marshal(item.Object)
				if err != nil {
					return nil, err
				}
				texts[fmt.Sprintf("%s %s/%s -o yaml", r.Name, ns, item.GetName())] = string(data)
			}
		}
	}
	pods, err := e.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name"})
	if err != nil {
		return texts, err
	}
	for _, p := range pods.Items {
		for _, c := range p.Spec.Containers {
			data, err := e.Client.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name}).DoRaw(ctx)
			if err == nil {
				texts[fmt.Sprintf("log of pod %s/%s container %s", ns, p.Name, c.Name)] = string(data)
			}
		}
	}
	return texts, nil
}
