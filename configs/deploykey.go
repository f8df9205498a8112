package configs

import "path/filepath"

// DeploymentKeyFileName is the generated deployment key inside ca.dir.
const DeploymentKeyFileName = "deployment.key"

// DeploymentKeyPath says where the deployment key lives: the mounted
// ca.deployment_key_file (mounted true), or deployment.key in ca.dir
// (the default ca.dir when a mounted CA left it empty), generated there on
// first start.
func (c CA) DeploymentKeyPath() (path string, mounted bool) {
	if c.DeploymentKeyFile != "" {
		return c.DeploymentKeyFile, true
	}
	dir := c.Dir
	if dir == "" {
		dir = defaultCADir
	}
	return filepath.Join(dir, DeploymentKeyFileName), false
}
