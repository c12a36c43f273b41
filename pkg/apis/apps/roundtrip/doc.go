// Package roundtrip holds the round-trip, conversion and validation fuzz tests of the
// apps.openyurt.io and iot.openyurt.io API groups. It has no non-test code.
package roundtrip
