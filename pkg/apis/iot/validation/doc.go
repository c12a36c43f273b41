// Package validation checks the internal iot.openyurt.io objects before they are stored.
//
// Every kind has three entry points: Validate<Kind> for creation, Validate<Kind>Update for
// updates of the main resource and Validate<Kind>StatusUpdate for the status subresource.
package validation
