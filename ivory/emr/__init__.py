"""Running jobs on ephemeral EMR clusters (design D4): pure request builders
(:mod:`ivory.emr.requests`), profiles (:mod:`ivory.emr.profile`) and AWS state enums
(:mod:`ivory.emr.types`). Nothing in this package calls AWS."""
