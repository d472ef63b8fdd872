COPY {deletions} ("id", "deleted_at") FROM STDIN (FORMAT csv)
