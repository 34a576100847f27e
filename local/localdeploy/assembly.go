// Package localdeploy deploys a synthesized CDK cloud assembly (cdk.out) into a local AWS
// emulator through its CloudFormation API, the way `cdk deploy` does: it publishes the file
// assets to the bootstrap bucket, writes the bootstrap version parameter, creates the stack
// from the template as synthesized and waits for it. It then repairs the few things the moto
// emulator does differently from AWS (see local/RESEARCH.md and FixMoto).
package localdeploy

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Assembly is the part of a cloud assembly's manifest.json that a deployment needs.
type Assembly struct {
	Dir    string
	Stacks []StackArtifact
}

// StackArtifact is one "aws:cloudformation:stack" artifact.
type StackArtifact struct {
	ID           string
	StackName    string
	TemplateFile string // relative to the assembly directory
	// TemplateObjectURL is the s3:// URL the template is published to, with ${AWS::...}
	// placeholders (empty when the synthesizer does not publish it).
	TemplateObjectURL string
	// BootstrapVersionParameter is the SSM parameter the template's BootstrapVersion parameter
	// reads, and RequiredBootstrapVersion the lowest version the stack accepts.
	BootstrapVersionParameter string
	RequiredBootstrapVersion  int
	// AssetManifests are the asset manifest files (relative) the stack depends on.
	AssetManifests []string
}

// FileAsset is one file asset destination from an asset manifest.
type FileAsset struct {
	ID          string
	DisplayName string
	SourcePath  string // absolute
	Packaging   string // "file" or "zip"
	Bucket      string // with ${AWS::...} placeholders
	ObjectKey   string
}

type manifestJSON struct {
	Artifacts map[string]struct {
		Type         string   `json:"type"`
		Dependencies []string `json:"dependencies"`
		Properties   struct {
			File                              string `json:"file"`
			TemplateFile                      string `json:"templateFile"`
			StackName                         string `json:"stackName"`
			StackTemplateAssetObjectURL       string `json:"stackTemplateAssetObjectUrl"`
			RequiresBootstrapStackVersion     int    `json:"requiresBootstrapStackVersion"`
			BootstrapStackVersionSsmParameter string `json:"bootstrapStackVersionSsmParameter"`
		} `json:"properties"`
	} `json:"artifacts"`
}

// ReadAssembly reads dir/manifest.json.
func ReadAssembly(dir string) (*Assembly, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("read cloud assembly: %w", err)
	}
	var m manifestJSON
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("parse %s/manifest.json: %w", dir, err)
	}
	a := &Assembly{Dir: dir}
	ids := slices.Sorted(maps.Keys(m.Artifacts))
	for _, id := range ids {
		art := m.Artifacts[id]
		if art.Type != "aws:cloudformation:stack" {
			continue
		}
		s := StackArtifact{
			ID:                        id,
			StackName:                 art.Properties.StackName,
			TemplateFile:              art.Properties.TemplateFile,
			TemplateObjectURL:         art.Properties.StackTemplateAssetObjectURL,
			BootstrapVersionParameter: art.Properties.BootstrapStackVersionSsmParameter,
			RequiredBootstrapVersion:  art.Properties.RequiresBootstrapStackVersion,
		}
		if s.StackName == "" {
			s.StackName = id
		}
		for _, dep := range art.Dependencies {
			if d, ok := m.Artifacts[dep]; ok && d.Type == "cdk:asset-manifest" {
				s.AssetManifests = append(s.AssetManifests, d.Properties.File)
			}
		}
		a.Stacks = append(a.Stacks, s)
	}
	if len(a.Stacks) == 0 {
		return nil, fmt.Errorf("%s/manifest.json has no CloudFormation stack", dir)
	}
	return a, nil
}

// Stack returns the stack artifact with the given stack name or artifact id; with an empty
// name, the only stack.
func (a *Assembly) Stack(name string) (*StackArtifact, error) {
	if name == "" {
		if len(a.Stacks) != 1 {
			return nil, fmt.Errorf("the assembly has %d stacks; name one", len(a.Stacks))
		}
		return &a.Stacks[0], nil
	}
	for i := range a.Stacks {
		if a.Stacks[i].StackName == name || a.Stacks[i].ID == name {
			return &a.Stacks[i], nil
		}
	}
	return nil, fmt.Errorf("no stack %q in %s", name, a.Dir)
}

type assetManifestJSON struct {
	Files map[string]struct {
		DisplayName string `json:"displayName"`
		Source      struct {
			Path       string `json:"path"`
			Packaging  string `json:"packaging"`
			Executable []any  `json:"executable"`
		} `json:"source"`
		Destinations map[string]struct {
			BucketName string `json:"bucketName"`
			ObjectKey  string `json:"objectKey"`
		} `json:"destinations"`
	} `json:"files"`
	DockerImages map[string]json.RawMessage `json:"dockerImages"`
}

// FileAssets lists the file assets of the stack (every destination). Docker image assets are
// an error: the emulator has no ECR publishing here.
func (a *Assembly) FileAssets(s *StackArtifact) ([]FileAsset, error) {
	var out []FileAsset
	for _, f := range s.AssetManifests {
		raw, err := os.ReadFile(filepath.Join(a.Dir, f))
		if err != nil {
			return nil, fmt.Errorf("read asset manifest: %w", err)
		}
		var m assetManifestJSON
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("parse %s: %w", f, err)
		}
		if len(m.DockerImages) > 0 {
			return nil, fmt.Errorf("%s has Docker image assets, which localdeploy does not publish", f)
		}
		ids := slices.Sorted(maps.Keys(m.Files))
		for _, id := range ids {
			fa := m.Files[id]
			if len(fa.Source.Executable) > 0 {
				return nil, fmt.Errorf("asset %s is built by a command, which localdeploy does not run", id)
			}
			pkg := fa.Source.Packaging
			if pkg == "" {
				pkg = "file"
			}
			if pkg != "file" && pkg != "zip" {
				return nil, fmt.Errorf("asset %s: unknown packaging %q", id, pkg)
			}
			src := fa.Source.Path
			if !filepath.IsAbs(src) {
				src = filepath.Join(a.Dir, src)
			}
			dests := slices.Sorted(maps.Keys(fa.Destinations))
			for _, d := range dests {
				dest := fa.Destinations[d]
				out = append(out, FileAsset{
					ID: id, DisplayName: fa.DisplayName, SourcePath: src, Packaging: pkg,
					Bucket: dest.BucketName, ObjectKey: dest.ObjectKey,
				})
			}
		}
	}
	return out, nil
}

// Content returns the bytes to upload: the file itself, or for "zip" packaging the directory
// (or file) zipped the way the CDK CLI does it: sorted entries, a fixed timestamp, and the
// file modes kept, so a Lambda bootstrap stays executable.
func (f FileAsset) Content() ([]byte, error) {
	if f.Packaging == "file" {
		return os.ReadFile(f.SourcePath)
	}
	return zipPath(f.SourcePath)
}

// zipEpoch is the fixed modification time of every zip entry (the CDK CLI uses 1980-01-01).
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func zipPath(root string) ([]byte, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	type entry struct {
		name string
		path string
		info fs.FileInfo
	}
	var entries []entry
	if !info.IsDir() {
		entries = append(entries, entry{filepath.Base(root), root, info})
	} else {
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p == root {
				return nil
			}
			fi, err := os.Stat(p) // follow symlinks, as the CLI does
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			entries = append(entries, entry{filepath.ToSlash(rel), p, fi})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h, err := zip.FileInfoHeader(e.info)
		if err != nil {
			return nil, err
		}
		h.Name = e.name
		h.Modified = zipEpoch
		if e.info.IsDir() {
			h.Name += "/"
			h.Method = zip.Store
			if _, err := zw.CreateHeader(h); err != nil {
				return nil, err
			}
			continue
		}
		h.Method = zip.Deflate
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		r, err := os.Open(e.path)
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(w, r)
		r.Close()
		if err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// substitutePseudo replaces ${AWS::AccountId}, ${AWS::Region} and ${AWS::Partition}.
func substitutePseudo(s, account, region string) string {
	return strings.NewReplacer(
		"${AWS::AccountId}", account,
		"${AWS::Region}", region,
		"${AWS::Partition}", "aws",
	).Replace(s)
}
