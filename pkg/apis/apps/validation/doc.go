// Package validation checks the internal apps.openyurt.io objects before they are stored.
//
// Every kind has three entry points: Validate<Kind> for creation, Validate<Kind>Update for
// updates of the main resource and Validate<Kind>StatusUpdate for the status subresource.
// They expect objects that have been converted to the internal version and defaulted, and
// they return every problem found with its full field path.
package validation
