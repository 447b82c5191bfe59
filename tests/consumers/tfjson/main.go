// Command tfjson reads exoform plan JSON files with HashiCorp's terraform-json library (the
// library behind terraform-exec and terratest) and fails on anything it rejects or that breaks
// the plan representation's rules. It prints one JSON summary line per file for the test.
package main

import (
	"encoding/json"
	"fmt"
	"io/ioutil"
	"os"

	tfjson "github.com/hashicorp/terraform-json"
)

type summary struct {
	File             string            `json:"file"`
	FormatVersion    string            `json:"format_version"`
	TerraformVersion string            `json:"terraform_version"`
	Actions          map[string]string `json:"actions"`
	Planned          int               `json:"planned"`
	Prior            int               `json:"prior"`
	Configured       int               `json:"configured"`
}

func action(a tfjson.Actions) (string, error) {
	switch {
	case a.NoOp():
		return "no-op", nil
	case a.Create():
		return "create", nil
	case a.Update():
		return "update", nil
	case a.Delete():
		return "delete", nil
	case a.DestroyBeforeCreate():
		return "replace", nil
	case a.CreateBeforeDestroy():
		return "replace-create-first", nil
	case a.Read():
		return "read", nil
	}
	return "", fmt.Errorf("actions %v are none that terraform-json knows", a)
}

func check(path string) (*summary, error) {
	data, err := ioutil.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var plan tfjson.Plan
	if err := json.Unmarshal(data, &plan); err != nil { // runs Plan.Validate (format version)
		return nil, err
	}
	if plan.PriorState == nil || plan.Config == nil || plan.PlannedValues == nil {
		return nil, fmt.Errorf("prior_state, configuration or planned_values is missing")
	}
	out := &summary{File: path, FormatVersion: plan.FormatVersion, TerraformVersion: plan.TerraformVersion,
		Actions: map[string]string{}}
	for _, rc := range plan.ResourceChanges {
		if rc.Mode != tfjson.ManagedResourceMode || rc.ProviderName == "" || rc.Change == nil {
			return nil, fmt.Errorf("%s: mode %q, provider_name %q", rc.Address, rc.Mode, rc.ProviderName)
		}
		if rc.Address != rc.Type+"."+rc.Name {
			return nil, fmt.Errorf("%s is not %s.%s", rc.Address, rc.Type, rc.Name)
		}
		name, err := action(rc.Change.Actions)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", rc.Address, err)
		}
		out.Actions[rc.Address] = name
	}
	if plan.PlannedValues.RootModule != nil {
		for _, r := range plan.PlannedValues.RootModule.Resources {
			if out.Actions[r.Address] == "" || out.Actions[r.Address] == "delete" {
				return nil, fmt.Errorf("planned value %s has no surviving resource change", r.Address)
			}
			out.Planned++
		}
	}
	if plan.PriorState.Values != nil && plan.PriorState.Values.RootModule != nil {
		out.Prior = len(plan.PriorState.Values.RootModule.Resources)
	}
	if plan.Config.RootModule != nil {
		out.Configured = len(plan.Config.RootModule.Resources)
	}
	return out, nil
}

func main() {
	failed := false
	for _, path := range os.Args[1:] {
		result, err := check(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
			continue
		}
		line, _ := json.Marshal(result)
		fmt.Println(string(line))
	}
	if failed || len(os.Args) < 2 {
		os.Exit(1)
	}
}
