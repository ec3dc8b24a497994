"""Running jobs as job flows on ephemeral EMR clusters (design D4): pure request builders
(:mod:`ivory.emr.requests`), plan staging (:mod:`ivory.emr.staging`), the flow value and its
state machine (:mod:`ivory.emr.flow`), profiles (:mod:`ivory.emr.profile`), AWS state enums
(:mod:`ivory.emr.types`); the boto3 layer (:mod:`ivory.emr.client`), the driver glue
(:mod:`ivory.emr.launch`) and the local stand-in (:mod:`ivory.emr.local`) are the only
modules that call AWS or run steps."""
