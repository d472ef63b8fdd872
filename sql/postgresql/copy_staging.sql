-- Stream the page into staging as CSV written by pyarrow.csv.write_csv.
COPY {staging} ({columns}) FROM STDIN (FORMAT csv)
