package configs

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML keeps the entry's node so it can overlay its base profile.
func (e *ProviderEntry) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a provider entry must be a mapping", n.Line)
	}
	e.node = n
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "use":
			e.Use = v.Value
		case "name":
			e.Name = v.Value
		case "accounts":
			if v.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: accounts: want a mapping of account id to overrides", v.Line)
			}
			e.Accounts = map[string]*yaml.Node{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				e.Accounts[v.Content[j].Value] = v.Content[j+1]
			}
		}
	}
	if e.Use == "" {
		e.Use = e.Name
	}
	if e.Name == "" {
		e.Name = e.Use
	}
	return nil
}

// MarshalYAML prints the entry as written (secrets are redacted by the
// effective-profile printer, not here: entries are never printed raw).
func (e ProviderEntry) MarshalYAML() (any, error) {
	return map[string]string{"use": e.Use, "name": e.Name}, nil
}
