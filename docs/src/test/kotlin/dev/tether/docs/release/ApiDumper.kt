package dev.tether.docs.release

import org.objectweb.asm.AnnotationVisitor
import org.objectweb.asm.ClassReader
import org.objectweb.asm.ClassVisitor
import org.objectweb.asm.FieldVisitor
import org.objectweb.asm.MethodVisitor
import org.objectweb.asm.Opcodes
import org.objectweb.asm.Type
import kotlin.metadata.KmConstructor
import kotlin.metadata.KmDeclarationContainer
import kotlin.metadata.Modality
import kotlin.metadata.Visibility
import kotlin.metadata.jvm.JvmMethodSignature
import kotlin.metadata.jvm.KotlinClassMetadata
import kotlin.metadata.jvm.Metadata
import kotlin.metadata.jvm.fieldSignature
import kotlin.metadata.jvm.getterSignature
import kotlin.metadata.jvm.setterSignature
import kotlin.metadata.jvm.signature
import kotlin.metadata.jvm.syntheticMethodForAnnotations
import kotlin.metadata.modality
import kotlin.metadata.visibility

/**
 * The public binary API of a set of compiled classes, as text: one block per class a user can reach (public, or
 * protected and nested), each listing the fields, constructors and methods a user can call or override, with their
 * JVM descriptors. Kotlin's `internal` and `private` declarations are public in the bytecode; the class's Kotlin
 * metadata tells them apart and they are left out (unless `@PublishedApi`). Synthetic members are left out too,
 * except the `$default` stubs and default-argument constructors that Kotlin callers of a visible function link to.
 *
 * Declarations annotated with one of [nonPublicMarkers] (Tether's opt-in `@InternalTetherApi`: shared between
 * Tether's modules, documented as liable to change) are left out like `internal` ones.
 *
 * The text is stable (sorted) so that a committed copy can be compared line by line with a fresh build.
 */
class ApiDumper(private val nonPublicMarkers: Set<String> = setOf(INTERNAL_TETHER_API)) {
    fun dump(classFiles: Sequence<ByteArray>): String {
        val classes = classFiles.map(::readClass).associateBy { it.name }
        return classes.values
            .filter { isReachable(it, classes) }
            .sortedBy { it.name }
            .mapNotNull { render(it, classes) }
            .joinToString("")
    }

    private val Member.isMarkedNonPublic get() = annotations.any { it in nonPublicMarkers }
    private val Member.publishedApi get() = PUBLISHED_API in annotations

    private fun render(cls: ClassFile, classes: Map<String, ClassFile>): String? {
        val kotlin = kotlinView(cls, classes)
        val overridable = cls.access and Opcodes.ACC_FINAL == 0
        fun reachable(access: Int) =
            access and Opcodes.ACC_PUBLIC != 0 || (overridable && access and Opcodes.ACC_PROTECTED != 0)

        val fields = cls.fields
            .filter { reachable(it.access) && it.access and Opcodes.ACC_SYNTHETIC == 0 && !it.isMarkedNonPublic }
            .filter { kotlin == null || it.publishedApi || it.name + ":" + it.descriptor !in kotlin.hiddenFields }
            .sortedWith(compareBy({ it.name }, { it.descriptor }))
            .map { "  ${modifiers(it.access, MEMBER_FLAGS)}field ${it.name}: ${it.descriptor}" }
        val methods = cls.methods
            .filter { reachable(it.access) && it.name != "<clinit>" && !it.isMarkedNonPublic }
            .filter { isVisibleMethod(it, kotlin) }
            .sortedWith(compareBy({ it.name != "<init>" }, { it.name }, { it.descriptor }))
            .map { "  ${modifiers(it.access, MEMBER_FLAGS)}${it.name}${it.descriptor}" }
        // a Kotlin file facade (FooKt) with only internal or private declarations is no API
        if (kotlin?.isFileFacade == true && fields.isEmpty() && methods.isEmpty()) return null

        return buildString {
            append(header(cls)).append(" {\n")
            fields.forEach { append(it).append('\n') }
            methods.forEach { append(it).append('\n') }
            append("}\n\n")
        }
    }

    private fun header(cls: ClassFile): String {
        val access = cls.innerAccess ?: cls.access
        val kind = when {
            access and Opcodes.ACC_ANNOTATION != 0 -> "annotation"
            access and Opcodes.ACC_INTERFACE != 0 -> "interface"
            access and Opcodes.ACC_ENUM != 0 -> "enum"
            else -> "class"
        }
        val flags =
            if (access and Opcodes.ACC_INTERFACE != 0) CLASS_FLAGS and Opcodes.ACC_ABSTRACT.inv() else CLASS_FLAGS
        val supers = listOfNotNull(cls.superName?.takeIf { it != "java/lang/Object" }) + cls.interfaces.sorted()
        return "${modifiers(access, flags)}$kind ${cls.name}" +
            if (supers.isEmpty()) "" else " : " + supers.joinToString(", ")
    }

    private fun modifiers(access: Int, shown: Int): String = FLAG_NAMES
        .filter { (flag, _) -> flag and shown != 0 && access and flag != 0 }
        .joinToString("") { (_, name) -> "$name " }

    /**
     * Public or protected, not synthetic, not local or anonymous, not Kotlin-internal, and so is every enclosing
     * class.
     */
    private fun isReachable(cls: ClassFile, classes: Map<String, ClassFile>): Boolean {
        val access = cls.innerAccess ?: cls.access
        if (access and (Opcodes.ACC_PUBLIC or Opcodes.ACC_PROTECTED) == 0) return false
        if (access and Opcodes.ACC_SYNTHETIC != 0) return false
        if (cls.isLocalOrAnonymous) return false
        if (cls.annotations.any { it in nonPublicMarkers }) return false
        val km = (cls.kotlinMetadata as? KotlinClassMetadata.Class)?.kmClass
        if (km != null && !km.visibility.isApi() && PUBLISHED_API !in cls.annotations) return false
        val outer = cls.outerName ?: return true
        return classes[outer]?.let { isReachable(it, classes) } ?: true
    }

    private fun isVisibleMethod(method: Member, kotlin: KotlinView?): Boolean {
        if (kotlin == null) return method.access and Opcodes.ACC_SYNTHETIC == 0
        if (method.publishedApi) return true
        val descriptor = kotlin.descriptorInOwner(method.descriptor)
        if (method.access and Opcodes.ACC_SYNTHETIC != 0) {
            return when {
                method.name.endsWith(DEFAULT_SUFFIX) ->
                    method.name.removeSuffix(DEFAULT_SUFFIX) in kotlin.visibleFunctionNames

                method.name == "<init>" && method.descriptor.contains(DEFAULT_MARKER) ->
                    kotlin.isDefaultArgumentsConstructorVisible(method.descriptor)

                else -> false
            }
        }
        return method.name + descriptor !in kotlin.hiddenMethods
    }

    /** What the Kotlin metadata of a class (or, for an interface's `DefaultImpls`, of the interface) hides. */
    private class KotlinView(
        val isFileFacade: Boolean,
        val hiddenMethods: Set<String>,
        val hiddenFields: Set<String>,
        val visibleFunctionNames: Set<String>,
        val constructors: List<Pair<String, Boolean>>,
        /** `DefaultImpls` methods take the interface as an extra first parameter. */
        val implsOf: String? = null,
    ) {
        fun descriptorInOwner(descriptor: String): String {
            if (implsOf == null) return descriptor
            val type = Type.getMethodType(descriptor)
            val args = type.argumentTypes
            if (args.isEmpty() || args[0].internalName != implsOf) return descriptor
            return Type.getMethodDescriptor(type.returnType, *args.drop(1).toTypedArray())
        }

        /**
         * `<init>(params..., int mask..., DefaultConstructorMarker)`: visible when the constructor it stands for is.
         */
        fun isDefaultArgumentsConstructorVisible(descriptor: String): Boolean {
            val args = Type.getArgumentTypes(descriptor).map { it.descriptor }
            return constructors.any { (ctor, visible) ->
                val own = Type.getArgumentTypes(ctor).map { it.descriptor }
                visible && args.size > own.size && args.subList(0, own.size) == own &&
                    args.last() == DEFAULT_MARKER && args.subList(own.size, args.size - 1).all { it == "I" }
            }
        }
    }

    private fun kotlinView(cls: ClassFile, classes: Map<String, ClassFile>): KotlinView? {
        if (cls.name.endsWith(DEFAULT_IMPLS) && cls.outerName != null) {
            val owner = classes[cls.outerName] ?: return null
            val view = kotlinView(owner, classes) ?: return null
            return KotlinView(false, view.hiddenMethods, emptySet(), view.visibleFunctionNames, emptyList(), owner.name)
        }
        return when (val metadata = cls.kotlinMetadata) {
            is KotlinClassMetadata.Class -> {
                val km = metadata.kmClass
                // a sealed class is extended only inside its own module: its constructors are no API
                val own = view(
                    cls,
                    km,
                    km.constructors,
                    isFileFacade = false,
                    constructorsAreApi = km.modality != Modality.SEALED,
                )
                val companion = km.companionObject?.let { name -> classes["${cls.name}$$name"] } ?: return own
                // the companion's const and @JvmField properties and @JvmStatic functions live in this class too
                val fromCompanion = kotlinView(companion, classes)
                val companionField = "${km.companionObject}:L${companion.name};"
                KotlinView(
                    isFileFacade = false,
                    hiddenMethods = own.hiddenMethods +
                        (fromCompanion?.hiddenMethods?.filterNot { it.startsWith("<init>") } ?: emptySet()),
                    hiddenFields = own.hiddenFields + (fromCompanion?.hiddenFields ?: emptySet()) +
                        (if (isReachable(companion, classes)) emptySet() else setOf(companionField)),
                    visibleFunctionNames = own.visibleFunctionNames,
                    constructors = own.constructors,
                )
            }

            is KotlinClassMetadata.FileFacade -> view(cls, metadata.kmPackage, emptyList(), isFileFacade = true)

            is KotlinClassMetadata.MultiFileClassPart -> view(cls, metadata.kmPackage, emptyList(), isFileFacade = true)

            else -> null
        }
    }

    private fun view(
        cls: ClassFile,
        container: KmDeclarationContainer,
        constructors: List<KmConstructor>,
        isFileFacade: Boolean,
        constructorsAreApi: Boolean = true,
    ): KotlinView {
        val hiddenMethods = mutableSetOf<String>()
        val hiddenFields = mutableSetOf<String>()
        val visibleNames = mutableSetOf<String>()
        fun hide(signature: JvmMethodSignature?) = signature?.let { hiddenMethods += it.name + it.descriptor }
        fun marked(signature: JvmMethodSignature?) = signature != null &&
            cls.methods.any {
                it.name == signature.name && it.descriptor == signature.descriptor && it.isMarkedNonPublic
            }
        for (function in container.functions) {
            val signature = function.signature ?: continue
            if (function.visibility.isApi() && !marked(signature)) visibleNames += signature.name else hide(signature)
        }
        for (property in container.properties) {
            // a property's own annotations sit on a synthetic `get<Name>$annotations()` method
            val visible = property.visibility.isApi() && !marked(property.syntheticMethodForAnnotations)
            if (!visible) property.fieldSignature?.let { hiddenFields += it.name + ":" + it.descriptor }
            if (!visible || !property.getter.visibility.isApi()) hide(property.getterSignature)
            val setter = property.setter
            if (!visible || (setter != null && !setter.visibility.isApi())) hide(property.setterSignature)
        }
        val ctors = constructors.mapNotNull { ctor ->
            ctor.signature?.let { it.descriptor to (constructorsAreApi && ctor.visibility.isApi() && !marked(it)) }
        }
        ctors.filterNot { it.second }.forEach { hiddenMethods += "<init>" + it.first }
        return KotlinView(isFileFacade, hiddenMethods, hiddenFields, visibleNames, ctors)
    }

    private fun Visibility.isApi() = this == Visibility.PUBLIC || this == Visibility.PROTECTED

    // ---- reading a class file -----------------------------------------------------------------------------------

    private class Member(val access: Int, val name: String, val descriptor: String) {
        val annotations = mutableSetOf<String>()
    }

    private class ClassFile(val name: String, val access: Int, val superName: String?, val interfaces: List<String>) {
        var innerAccess: Int? = null
        var outerName: String? = null
        var isLocalOrAnonymous = false
        val annotations = mutableSetOf<String>()
        var kotlinMetadata: KotlinClassMetadata? = null
        val fields = mutableListOf<Member>()
        val methods = mutableListOf<Member>()
    }

    private fun readClass(bytes: ByteArray): ClassFile {
        lateinit var cls: ClassFile
        val metadata = MetadataCollector()
        ClassReader(bytes).accept(
            object : ClassVisitor(Opcodes.ASM9) {
                override fun visit(
                    version: Int,
                    access: Int,
                    name: String,
                    signature: String?,
                    superName: String?,
                    interfaces: Array<out String>?,
                ) {
                    cls = ClassFile(name, access, superName, interfaces?.toList() ?: emptyList())
                }

                override fun visitInnerClass(name: String, outerName: String?, innerName: String?, access: Int) {
                    if (name != cls.name) return
                    cls.innerAccess = access
                    cls.outerName = outerName
                    cls.isLocalOrAnonymous = outerName == null
                }

                override fun visitAnnotation(descriptor: String, visible: Boolean): AnnotationVisitor? {
                    cls.annotations += descriptor
                    return if (descriptor == KOTLIN_METADATA) metadata else null
                }

                override fun visitField(
                    access: Int,
                    name: String,
                    descriptor: String,
                    signature: String?,
                    value: Any?,
                ): FieldVisitor {
                    val field = Member(access, name, descriptor).also { cls.fields += it }
                    return object : FieldVisitor(Opcodes.ASM9) {
                        override fun visitAnnotation(descriptor: String, visible: Boolean): AnnotationVisitor? =
                            null.also { field.annotations += descriptor }
                    }
                }

                override fun visitMethod(
                    access: Int,
                    name: String,
                    descriptor: String,
                    signature: String?,
                    exceptions: Array<out String>?,
                ): MethodVisitor {
                    val method = Member(access, name, descriptor).also { cls.methods += it }
                    return object : MethodVisitor(Opcodes.ASM9) {
                        override fun visitAnnotation(descriptor: String, visible: Boolean): AnnotationVisitor? =
                            null.also { method.annotations += descriptor }
                    }
                }
            },
            ClassReader.SKIP_CODE or ClassReader.SKIP_DEBUG or ClassReader.SKIP_FRAMES,
        )
        cls.kotlinMetadata = metadata.read()
        return cls
    }

    /** Collects the values of a `@kotlin.Metadata` annotation. */
    private class MetadataCollector : AnnotationVisitor(Opcodes.ASM9) {
        private val values = mutableMapOf<String, Any>()
        private var present = false

        override fun visit(name: String, value: Any) {
            present = true
            values[name] = value
        }

        override fun visitArray(name: String): AnnotationVisitor {
            present = true
            val items = mutableListOf<String>()
            values[name] = items
            return object : AnnotationVisitor(Opcodes.ASM9) {
                override fun visit(ignored: String?, value: Any) {
                    items += value as String
                }
            }
        }

        @Suppress("UNCHECKED_CAST")
        fun read(): KotlinClassMetadata? {
            if (!present) return null
            val metadata = Metadata(
                kind = values["k"] as Int?,
                metadataVersion = values["mv"] as IntArray?,
                data1 = (values["d1"] as List<String>?)?.toTypedArray(),
                data2 = (values["d2"] as List<String>?)?.toTypedArray(),
                extraString = values["xs"] as String?,
                packageName = values["pn"] as String?,
                extraInt = values["xi"] as Int?,
            )
            return KotlinClassMetadata.readLenient(metadata)
        }
    }

    companion object {
        const val INTERNAL_TETHER_API = "Ldev/tether/core/InternalTetherApi;"
        private const val KOTLIN_METADATA = "Lkotlin/Metadata;"
        private const val PUBLISHED_API = "Lkotlin/PublishedApi;"
        private const val DEFAULT_SUFFIX = "\$default"
        private const val DEFAULT_IMPLS = "\$DefaultImpls"
        private const val DEFAULT_MARKER = "Lkotlin/jvm/internal/DefaultConstructorMarker;"

        private val FLAG_NAMES = listOf(
            Opcodes.ACC_PUBLIC to "public",
            Opcodes.ACC_PROTECTED to "protected",
            Opcodes.ACC_STATIC to "static",
            Opcodes.ACC_ABSTRACT to "abstract",
            Opcodes.ACC_FINAL to "final",
            Opcodes.ACC_SYNTHETIC to "synthetic",
        )
        private const val CLASS_FLAGS = Opcodes.ACC_PUBLIC or Opcodes.ACC_PROTECTED or Opcodes.ACC_STATIC or
            Opcodes.ACC_ABSTRACT or Opcodes.ACC_FINAL
        private const val MEMBER_FLAGS = CLASS_FLAGS or Opcodes.ACC_SYNTHETIC
    }
}
