// Package apps holds the internal (hub) types of the apps.openyurt.io API group. Every served
// version converts to and from these; the registry and validation work on them.
//
// +k8s:deepcopy-gen=package
// +groupName=apps.openyurt.io
package apps
