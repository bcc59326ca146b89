// Small text and value helpers the commands share.

package cmd

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func ptrTo[T any](v T) *T { return &v }
