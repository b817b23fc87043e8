package cloudconfig

import "go.yaml.in/yaml/v3"

// ParseNode reads cloud-config written inline in another YAML file (the
// provision: of a job file, say) as Parse reads a file: n is the mapping
// of modules, and name, n's lines and columns are the positions errors
// and Origins give. The enclosing file's reader has already bounded its
// size; ParseNode bounds the values it visits as Parse does. A nil or
// null n is an empty Config.
func ParseNode(name string, n *yaml.Node) (*Config, error) {
	cfg := &Config{}
	if n == nil || isNull(n) {
		return cfg, nil
	}
	d := &decoder{file: name}
	if err := d.config(n, cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}
