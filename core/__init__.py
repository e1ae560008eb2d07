"""The ground floor: cache bus, Redis clients, backend choice, background executor,
lifecycle, job schedule, runtime options access and role predicates. No models, and no
import of any OneProxy app (only Django settings and libraries)."""
