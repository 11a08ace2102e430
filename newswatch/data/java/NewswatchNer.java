// Serves Stanford CoreNLP's named-entity recogniser over HTTP on the loopback interface only.
// CoreNLP's own StanfordCoreNLPServer binds every interface and has no option to choose one, so newswatch
// compiles this launcher against the fetched CoreNLP jars at setup and runs it instead.
//
//   java -cp 'lib/*:classes' NewswatchNer ADDRESS PORT THREADS [key=value CoreNLP properties...]
//   (ADDRESS is 127.0.0.1 unless a deployment puts the service in a private network of its own)
//
// GET  /ready  200 "ok" once the models are loaded (they are loaded before the port opens)
// POST /ner    body: UTF-8 texts separated by U+0000; answer: one JSON array per text of
//              [begin, end, "TAG"] entity mentions, offsets in UTF-16 code units of that text
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import edu.stanford.nlp.ling.CoreAnnotations;
import edu.stanford.nlp.pipeline.Annotation;
import edu.stanford.nlp.pipeline.StanfordCoreNLP;
import edu.stanford.nlp.util.CoreMap;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Executors;

public class NewswatchNer {
  private static final int MAX_BODY = 8 * 1024 * 1024;

  public static void main(String[] args) throws Exception {
    InetAddress address = InetAddress.getByName(args[0]);
    int port = Integer.parseInt(args[1]);
    int threads = Integer.parseInt(args[2]);
    Properties props = new Properties();
    props.setProperty("annotators", "tokenize,ssplit,pos,lemma,ner");
    for (int i = 3; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      props.setProperty(args[i].substring(0, eq), args[i].substring(eq + 1));
    }
    StanfordCoreNLP pipeline = new StanfordCoreNLP(props);
    pipeline.annotate(new Annotation("Warm-up: Sadyr Japarov met the Asian Development Bank in Bishkek."));
    HttpServer server = HttpServer.create(new InetSocketAddress(address, port), 128);
    server.createContext("/ready", ex -> reply(ex, 200, "ok", "text/plain"));
    server.createContext("/ner", ex -> {
      try {
        if (!"POST".equals(ex.getRequestMethod())) {
          reply(ex, 405, "POST texts separated by U+0000", "text/plain");
          return;
        }
        String body = read(ex.getRequestBody());
        if (body == null) {
          reply(ex, 413, "request body over " + MAX_BODY + " bytes", "text/plain");
          return;
        }
        StringBuilder out = new StringBuilder("[");
        String[] texts = body.split("\u0000", -1);
        for (int t = 0; t < texts.length; t++) {
          if (t > 0) out.append(',');
          out.append('[');
          Annotation doc = new Annotation(texts[t]);
          pipeline.annotate(doc);
          List<CoreMap> mentions = doc.get(CoreAnnotations.MentionsAnnotation.class);
          boolean first = true;
          if (mentions != null) {
            for (CoreMap m : mentions) {
              String tag = m.get(CoreAnnotations.NamedEntityTagAnnotation.class);
              if (tag == null) continue;
              if (!first) out.append(',');
              first = false;
              out.append('[').append(m.get(CoreAnnotations.CharacterOffsetBeginAnnotation.class)).append(',')
                 .append(m.get(CoreAnnotations.CharacterOffsetEndAnnotation.class)).append(",\"")
                 .append(tag.replace("\\", "").replace("\"", "")).append("\"]");
            }
          }
          out.append(']');
        }
        out.append(']');
        reply(ex, 200, out.toString(), "application/json");
      } catch (RuntimeException | OutOfMemoryError e) {
        reply(ex, 500, e.getClass().getSimpleName() + ": " + e.getMessage(), "text/plain");
      }
    });
    server.setExecutor(Executors.newFixedThreadPool(threads));
    server.start();
    System.err.println("NewswatchNer listening on " + server.getAddress());
  }

  private static String read(InputStream in) throws IOException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    byte[] chunk = new byte[65536];
    int n;
    while ((n = in.read(chunk)) > 0) {
      buf.write(chunk, 0, n);
      if (buf.size() > MAX_BODY) return null;
    }
    return new String(buf.toByteArray(), StandardCharsets.UTF_8);
  }

  private static void reply(HttpExchange ex, int status, String body, String type) throws IOException {
    byte[] data = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type + "; charset=utf-8");
    ex.sendResponseHeaders(status, data.length);
    try (OutputStream os = ex.getResponseBody()) {
      os.write(data);
    }
  }
}
