// Package iot holds the names shared by every version of the iot.openyurt.io API group.
package iot

// GroupName is the API group of Device, DeviceService, DeviceProfile and PlatformAdmin.
const GroupName = "iot.openyurt.io"
