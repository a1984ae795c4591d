"""Twin models: the DTDL language (:mod:`twinsight.models.dtdl`), loading documents from
files and requests (:mod:`twinsight.models.loader`) and the model repository
(:mod:`twinsight.models.repository`)."""
