package localdeploy

import "sort"

// TemplateResource is one resource of a CloudFormation template.
type TemplateResource struct {
	LogicalID  string
	Type       string
	Properties map[string]any
	Metadata   map[string]any
}

// TemplateResources lists a template's resources, sorted by logical id. Everything that
// walks a template (the deployer, the moto fixes, the local runner) walks it through this.
func TemplateResources(template map[string]any) []TemplateResource {
	resources, _ := template["Resources"].(map[string]any)
	out := make([]TemplateResource, 0, len(resources))
	for id, r := range resources {
		m, _ := r.(map[string]any)
		tr := TemplateResource{LogicalID: id}
		tr.Type, _ = m["Type"].(string)
		tr.Properties, _ = m["Properties"].(map[string]any)
		tr.Metadata, _ = m["Metadata"].(map[string]any)
		out = append(out, tr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LogicalID < out[j].LogicalID })
	return out
}

// RefTarget is the id of {"Ref": id}.
func RefTarget(v any) (string, bool) {
	m, _ := v.(map[string]any)
	id, ok := m["Ref"].(string)
	return id, ok
}

// GetAttTarget is the id and attribute of {"Fn::GetAtt": [id, attribute]}.
func GetAttTarget(v any) (id, attribute string, ok bool) {
	m, _ := v.(map[string]any)
	args, _ := m["Fn::GetAtt"].([]any)
	if len(args) != 2 {
		return "", "", false
	}
	id, ok1 := args[0].(string)
	attribute, ok2 := args[1].(string)
	return id, attribute, ok1 && ok2
}
