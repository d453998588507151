package dev.tether.docs.release

import dev.tether.docs.release.fixture.Widget
import io.kotest.assertions.throwables.shouldThrow
import io.kotest.core.spec.style.FunSpec
import io.kotest.matchers.collections.shouldBeEmpty
import io.kotest.matchers.collections.shouldContainExactly
import io.kotest.matchers.shouldBe
import io.kotest.matchers.string.shouldContain
import io.kotest.matchers.string.shouldNotContain
import org.objectweb.asm.ClassWriter
import org.objectweb.asm.Opcodes.ACC_ABSTRACT
import org.objectweb.asm.Opcodes.ACC_FINAL
import org.objectweb.asm.Opcodes.ACC_PRIVATE
import org.objectweb.asm.Opcodes.ACC_PROTECTED
import org.objectweb.asm.Opcodes.ACC_PUBLIC
import org.objectweb.asm.Opcodes.ACC_STATIC
import org.objectweb.asm.Opcodes.ACC_SUPER
import org.objectweb.asm.Opcodes.ACC_SYNTHETIC
import org.objectweb.asm.Opcodes.V17
import java.io.File

/** The API dumper and the diff the check reports, on classes written here with ASM and on compiled Kotlin fixtures. */
class ApiDumperSpec : FunSpec({

    class Member(val access: Int, val name: String, val descriptor: String)

    fun classFile(
        name: String,
        vararg members: Member,
        access: Int = ACC_PUBLIC or ACC_SUPER,
        superName: String = "java/lang/Object",
    ): ByteArray {
        val writer = ClassWriter(0)
        writer.visit(V17, access, name, null, superName, null)
        for (m in members) {
            if (m.descriptor.startsWith("(")) {
                writer.visitMethod(m.access, m.name, m.descriptor, null, null).visitEnd()
            } else {
                writer.visitField(m.access, m.name, m.descriptor, null, null).visitEnd()
            }
        }
        writer.visitEnd()
        return writer.toByteArray()
    }

    fun dump(vararg classes: ByteArray) = ApiDumper().dump(classes.asSequence())

    val ctor = Member(ACC_PUBLIC, "<init>", "()V")
    val send = Member(ACC_PUBLIC or ACC_FINAL, "send", "(Ljava/lang/String;)V")
    val close = Member(ACC_PUBLIC, "close", "()V")

    context("the diff between a committed dump and the compiled API") {
        test("an added member") {
            val before = dump(classFile("sample/Client", ctor, send))
            ApiDiff.between(before, dump(classFile("sample/Client", ctor, send, close))) shouldContainExactly
                listOf("sample/Client", "  + public close()V")
        }

        test("a removed member") {
            val before = dump(classFile("sample/Client", ctor, send, close))
            ApiDiff.between(before, dump(classFile("sample/Client", ctor, send))) shouldContainExactly
                listOf("sample/Client", "  - public close()V")
        }

        test("a changed member: parameter type, return type, or a modifier") {
            val before = dump(classFile("sample/Client", ctor, send))
            fun withSend(access: Int, descriptor: String) =
                dump(classFile("sample/Client", ctor, Member(access, "send", descriptor)))
            val removed = "  - public final send(Ljava/lang/String;)V"
            ApiDiff.between(before, withSend(ACC_PUBLIC or ACC_FINAL, "([B)V")) shouldContainExactly
                listOf("sample/Client", removed, "  + public final send([B)V")
            ApiDiff.between(before, withSend(ACC_PUBLIC or ACC_FINAL, "(Ljava/lang/String;)Z")) shouldContainExactly
                listOf("sample/Client", removed, "  + public final send(Ljava/lang/String;)Z")
            ApiDiff.between(
                before,
                withSend(ACC_PUBLIC or ACC_FINAL or ACC_STATIC, "(Ljava/lang/String;)V"),
            ) shouldContainExactly
                listOf("sample/Client", removed, "  + public static final send(Ljava/lang/String;)V")
        }

        test("a class made final, a class removed and a class added") {
            val before = dump(classFile("sample/Client", ctor), classFile("sample/Old", ctor))
            val after = dump(
                classFile("sample/Client", ctor, access = ACC_PUBLIC or ACC_FINAL or ACC_SUPER),
                classFile("sample/New", ctor),
            )
            ApiDiff.between(before, after) shouldContainExactly listOf(
                "sample/Client",
                "  - public class sample/Client",
                "  + public final class sample/Client",
                "+ public class sample/New (class added)",
                "- public class sample/Old (class removed)",
            )
        }

        test("no difference when only the order of members or classes changed") {
            ApiDiff.between(
                dump(classFile("sample/A", ctor, send, close), classFile("sample/B", ctor)),
                dump(classFile("sample/B", ctor), classFile("sample/A", close, send, ctor)),
            ).shouldBeEmpty()
        }

        test("a dump that is not one is refused, not compared") {
            shouldThrow<IllegalArgumentException> {
                ApiDiff.between("public void send()", dump(classFile("sample/A", ctor)))
            }
        }
    }

    context("what a Java class shows") {
        test("public members, and protected ones only where a subclass can reach them") {
            val protectedHook = Member(ACC_PROTECTED, "hook", "()V")
            val members = arrayOf(
                ctor,
                send,
                protectedHook,
                Member(ACC_PRIVATE, "secret", "()V"),
                Member(0, "packagePrivate", "()V"),
                Member(ACC_PUBLIC or ACC_SYNTHETIC, "access\$000", "()V"),
                Member(ACC_PUBLIC or ACC_STATIC or ACC_FINAL, "LIMIT", "I"),
                Member(ACC_PRIVATE, "state", "I"),
            )
            dump(classFile("sample/Open", *members, access = ACC_PUBLIC or ACC_ABSTRACT or ACC_SUPER)) shouldBe """
                |public abstract class sample/Open {
                |  public static final field LIMIT: I
                |  public <init>()V
                |  protected hook()V
                |  public final send(Ljava/lang/String;)V
                |}
                |
                |
            """.trimMargin()
            val closed = dump(classFile("sample/Closed", *members, access = ACC_PUBLIC or ACC_FINAL or ACC_SUPER))
            closed shouldNotContain "hook"
        }

        test("a package-private class is not API") {
            dump(classFile("sample/Hidden", ctor, access = ACC_SUPER)) shouldBe ""
        }
    }

    context("what compiled Kotlin shows") {
        val testClasses = File(Widget::class.java.protectionDomain.codeSource.location.toURI())
        val fixtureDir = File(testClasses, "dev/tether/docs/release/fixture")
        val classFiles = fixtureDir.listFiles { f: File -> f.name.endsWith(".class") }!!
        val api = ApiDumper().dump(classFiles.map { it.readBytes() }.asSequence())
        fun block(name: String) = api.substringAfter(" dev/tether/docs/release/fixture/$name ", "")
            .substringAfter("{\n")
            .substringBefore("}\n")

        test("public declarations are listed with their JVM signatures") {
            api shouldContain "public final class dev/tether/docs/release/fixture/Widget {"
            val widget = block("Widget")
            widget shouldContain "public <init>()V\n"
            widget shouldContain "public final getLabel()Ljava/lang/String;\n"
            widget shouldContain "public final open(I)I\n"
            widget shouldContain "public static final create()Ldev/tether/docs/release/fixture/Widget;\n"
            widget shouldContain "public static final field LIMIT: I\n"
            widget shouldContain
                "public static final field Companion: Ldev/tether/docs/release/fixture/Widget\$Companion;\n"
            block("Widget\$Companion") shouldContain "public final create()Ldev/tether/docs/release/fixture/Widget;\n"
            block("VisibilityFixtureKt") shouldContain "public static final topLevel()I\n"
            block("Point") shouldContain "public final component2()I\n"
        }

        test("Kotlin internal and private declarations are left out, though public in bytecode") {
            val widget = block("Widget")
            widget shouldNotContain "<init>(I)V"
            widget shouldNotContain "setLabel"
            widget shouldNotContain "iddenCount"
            widget shouldNotContain "hidden"
            widget shouldNotContain "HIDDEN_LIMIT"
            widget shouldNotContain "secret"
            api shouldNotContain "InternalWidget"
            api shouldNotContain "InternalOnlyFileKt"
            api shouldNotContain "topLevelHidden"
            api shouldNotContain "internalHook"
            // a sealed class is subclassed only in its own module
            block("Outcome") shouldNotContain "<init>"
        }

        test("@PublishedApi internal declarations are API (inline functions compile calls to them into user code)") {
            block("Widget") shouldContain "public final forInline()I\n"
        }

        test("default-argument stubs of public functions and constructors are kept, other synthetic members are not") {
            block("Widget") shouldContain
                "public static synthetic open\$default(Ldev/tether/docs/release/fixture/Widget;IILjava/lang/Object;)I\n"
            block("Point") shouldContain "public synthetic <init>(IIILkotlin/jvm/internal/DefaultConstructorMarker;)V\n"
            block("Point") shouldContain "public static synthetic copy\$default("
            block("Mode") shouldNotContain "\$VALUES"
        }

        test("declarations marked @InternalTetherApi are left out like internal ones") {
            block("Shared") shouldContain "public final open()I\n"
            block("Shared") shouldNotContain "sharedOnly"
            block("Shared") shouldNotContain "SharedState"
            api shouldNotContain "SharedClass"
        }

        test("protected members of open classes and protected nested classes are API") {
            block("Base") shouldContain "protected abstract hook()I\n"
            api shouldContain "protected static final class dev/tether/docs/release/fixture/Base\$ProtectedNested {"
        }

        test("the dump is the same whatever order the classes are read in") {
            ApiDumper().dump(classFiles.sortedDescending().map { it.readBytes() }.asSequence()) shouldBe api
        }
    }
})
