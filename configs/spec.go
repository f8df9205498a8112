package configs

import "strings"

// FormFieldBody starts a webhook route's body setting that reads the JSON
// from a form field: "form_field:payload".
const FormFieldBody = "form_field:"

// SpecSeparator separates the alternatives of a value spec: in
// "comment.id ?? issue.id" the first alternative with a value wins.
const SpecSeparator = " ?? "

// SpecAlternatives splits a value spec into its alternatives, trimmed; an
// empty spec has none.
func SpecAlternatives(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, SpecSeparator)
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}
