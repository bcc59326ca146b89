package jobs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"text/template"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"
)

// templateFuncs are the functions of the Job and pod templates: values as
// JSON, which YAML reads as they are.
var templateFuncs = template.FuncMap{
	"quote": func(s string) (string, error) { b, err := json.Marshal(s); return string(b), err },
	"json":  func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err },
}

// parseTemplate parses the embedded template text of name, with
// templateFuncs; a value the template names and is not given is an error.
func parseTemplate(name, text string) *template.Template {
	return template.Must(template.New(name).Option("missingkey=error").Funcs(templateFuncs).Parse(text))
}

// renderJob executes an embedded Job template and parses it strictly, so a
// template that drifts from the Job schema fails loudly instead of dropping fields.
func renderJob(tmpl *template.Template, what string, values any) (*batchv1.Job, error) {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, values); err != nil {
		return nil, fmt.Errorf("rendering the %s Job: %w", what, err)
	}
	job := &batchv1.Job{}
	if err := yaml.UnmarshalStrict(buf.Bytes(), job); err != nil {
		return nil, fmt.Errorf("rendering the %s Job: the template does not give a Job: %w", what, err)
	}
	return job, nil
}
