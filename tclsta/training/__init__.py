"""Training of the TCLSTA attention streams (tclsta train-stream)."""
