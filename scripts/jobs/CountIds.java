import java.sql.*;
/** Rows, distinct ids, id range and failed rows of a Parquet output, read with DuckDB (scripts/jobs-kill-resume.sh). */
public class CountIds {
    public static void main(String[] a) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("select count(*), count(distinct id), min(id), max(id), sum(case when result.error is null then 0 else 1 end) from read_parquet('" + a[0] + "/*.parquet')");
            r.next();
            System.out.printf("rows %d, distinct ids %d, ids %d..%d, failed %d%n", r.getLong(1), r.getLong(2), r.getLong(3), r.getLong(4), r.getLong(5));
        }
    }
}
