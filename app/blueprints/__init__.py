"""HTTP only: parse with schemas → call the service → dump with schemas."""
