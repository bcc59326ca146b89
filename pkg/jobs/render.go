package jobs

import (
	"bytes"
	"fmt"
	"text/template"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"
)

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
