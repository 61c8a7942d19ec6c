package org.sparseft.jobs.service;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.sparseft.driver.SparkSessions;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Progress lines of a running Spark job: tasks done of the job's tasks, rising, while it runs. */
class SparkProgressTest {
    @Test
    void reportsTasksDoneOfTheRunningJobAsTheyFinish() throws Exception {
        SparkSession spark = SparkSessions.create("progress", "local[1]", Map.of());
        try {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            StringWriter text = new StringWriter();
            try (SparkProgress ignored = new SparkProgress(jsc, new Progress(new PrintWriter(text, true)), "sleeping",
                    Duration.ofMillis(50))) {
                jsc.parallelize(List.of(1, 2, 3, 4, 5, 6), 6).foreach(x -> Thread.sleep(400));
            }
            Matcher m = Pattern.compile("sleeping: (\\d+)/(\\d+) tasks done, (\\d+) running").matcher(text.toString());
            List<Integer> done = new ArrayList<>();
            while (m.find()) {
                done.add(Integer.parseInt(m.group(1)));
                assertEquals(6, Integer.parseInt(m.group(2)), text.toString());
            }
            assertTrue(done.size() >= 3, "a line whenever a task finished: " + text);
            for (int i = 1; i < done.size(); i++) {
                assertTrue(done.get(i) > done.get(i - 1), "lines only when progress was made: " + done);
            }
            assertTrue(text.toString().contains("s left"), text.toString());
            // the status tracker learns of the job's end from Spark's listener bus, asynchronously
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (jsc.statusTracker().getActiveJobIds().length > 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(0, SparkProgress.tasks(jsc.statusTracker())[1], "no job runs now");
        } finally {
            spark.stop();
        }
    }
}
